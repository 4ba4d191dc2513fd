"""Witness policies, c2sp.org/tlog-policy (the Sigsum policy syntax with vkeys).

    log <vkey> [<url>]
    witness <name> <vkey> [<url>]
    group <name> all|any|<k> <member>...
    quorum <name>|none

Lines are split on spaces and tabs; blank lines and lines starting with "#" are
ignored.  Names (witnesses and groups share one namespace) are defined before
use, at most once; `none` is predefined for the quorum only.  A group is
satisfied when at least k of its members are; a witness when it cosigned.
Exactly one quorum line.  Duplicate keys (the same Ed25519 key under any
name) are refused.  Limits follow the spec's advice: 32 logs, witnesses and
groups each, at least; we allow 64.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TypeVar

from rekor_py.log.c2sp import NoteVerifier
from rekor_py.log.checkpoint import CheckpointError
from rekor_py.witness.cosignature import CosignatureVerifier

__all__ = ["Group", "PolicyError", "WitnessPolicy", "WitnessSpec", "parse_policy"]

_MAX_ITEMS = 64
_MAX_BYTES = 256 * 1024


class PolicyError(ValueError):
    """A policy file that does not follow c2sp.org/tlog-policy; the message names the line."""


@dataclass(frozen=True)
class WitnessSpec:
    name: str
    verifier: CosignatureVerifier
    url: str | None  # the witness's submission prefix


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class WitnessPolicy:
    logs: tuple[tuple[NoteVerifier, str | None], ...]
    witnesses: dict[str, WitnessSpec] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = "none"

    def satisfied(self, cosigned: Collection[str]) -> bool:
        """Whether witnesses named `cosigned` (their policy names) meet the quorum."""
        return self._holds(self.quorum, frozenset(cosigned))

    def _holds(self, name: str, cosigned: frozenset[str]) -> bool:
        if name == "none":
            return True
        if name in self.witnesses:
            return name in cosigned
        group = self.groups[name]
        return sum(self._holds(m, cosigned) for m in group.members) >= group.threshold

    def by_key_name(self) -> dict[str, list[WitnessSpec]]:
        """Witnesses by the name in their key (the name on their signature lines)."""
        out: dict[str, list[WitnessSpec]] = {}
        for spec in self.witnesses.values():
            out.setdefault(spec.verifier.name, []).append(spec)
        return out


def parse_policy(text: str) -> WitnessPolicy:
    """Raises PolicyError."""
    if len(text.encode()) > _MAX_BYTES:
        raise PolicyError(f"policy larger than {_MAX_BYTES} bytes")
    logs: list[tuple[NoteVerifier, str | None]] = []
    witnesses: dict[str, WitnessSpec] = {}
    groups: dict[str, Group] = {}
    quorum: str | None = None
    keys: set[bytes] = set()
    for number, raw in enumerate(text.split("\n"), 1):
        if any(c < " " and c != "\t" or c == "\x7f" for c in raw):
            raise PolicyError(f"line {number}: control character")
        fields = raw.replace("\t", " ").split()
        if not fields or fields[0].startswith("#"):
            continue

        def fail(why: str, number: int = number) -> PolicyError:
            return PolicyError(f"line {number}: {why}")

        keyword, args = fields[0], fields[1:]
        if keyword == "log":
            if len(args) not in (1, 2):
                raise fail("expected: log <vkey> [<url>]")
            verifier = _new_key(NoteVerifier.from_vkey, args[0], keys, fail)
            logs.append((verifier, args[1] if len(args) == 2 else None))
        elif keyword == "witness":
            if len(args) not in (2, 3):
                raise fail("expected: witness <name> <vkey> [<url>]")
            name = _new_name(args[0], witnesses, groups, fail)
            cosigner = _new_key(CosignatureVerifier.from_vkey, args[1], keys, fail)
            witnesses[name] = WitnessSpec(name, cosigner, args[2] if len(args) == 3 else None)
        elif keyword == "group":
            if len(args) < 3:
                raise fail("expected: group <name> all|any|<k> <member>...")
            name = _new_name(args[0], witnesses, groups, fail)
            members = tuple(args[2:])
            if len(set(members)) != len(members):
                raise fail("a member is listed twice")
            for m in members:
                if m not in witnesses and m not in groups:
                    raise fail(f"{m!r} is not defined on an earlier line")
            groups[name] = Group(name, _threshold(args[1], len(members), fail), members)
        elif keyword == "quorum":
            if len(args) != 1:
                raise fail("expected: quorum <name>|none")
            if quorum is not None:
                raise fail("a second quorum line")
            if args[0] != "none" and args[0] not in witnesses and args[0] not in groups:
                raise fail(f"{args[0]!r} is not defined on an earlier line")
            quorum = args[0]
        else:
            raise fail(f"unknown keyword {keyword!r}")
        if max(len(logs), len(witnesses), len(groups)) > _MAX_ITEMS:
            raise fail(f"more than {_MAX_ITEMS} logs, witnesses or groups")
    if quorum is None:
        raise PolicyError("the policy has no quorum line")
    return WitnessPolicy(tuple(logs), witnesses, groups, quorum)


_Key = TypeVar("_Key", NoteVerifier, CosignatureVerifier)


def _new_key(parse: Callable[[str], _Key], vkey: str, keys: set[bytes],
             fail: Callable[[str], PolicyError]) -> _Key:
    """The parsed key; refused if it does not parse or if the policy has it already
    (under any name: the spec counts a key once)."""
    try:
        key = parse(vkey)
    except CheckpointError as e:
        raise fail(str(e)) from e
    if key.key in keys:
        raise fail("duplicate key")
    keys.add(key.key)
    return key


def _new_name(name: str, witnesses: dict[str, WitnessSpec], groups: dict[str, Group],
              fail: Callable[[str], PolicyError]) -> str:
    if name == "none" or name in witnesses or name in groups:
        raise fail(f"name {name!r} is predefined or already defined")
    return name


def _threshold(word: str, n: int, fail: Callable[[str], PolicyError]) -> int:
    if word == "all":
        return n
    if word == "any":
        return 1
    if not word.isdigit() or (len(word) > 1 and word[0] == "0") or not 1 <= int(word) <= n:
        raise fail(f"threshold {word!r} is not all, any or a number from 1 to {n}")
    return int(word)
