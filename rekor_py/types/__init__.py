"""Entry types keyed by (kind, api_version), and parsing of a ProposedEntry.

Owns: the registry (`register`), Rekor's list of known kinds, the one import
list below that enables kinds, and `parse_entry`, which checks the
ProposedEntry envelope and hands `spec` to the right implementation. Leaves
to the implementations everything inside `spec`, and to api/ the HTTP side.

Checks run in Rekor's order (pkg/generated/models, pkg/types CreateVersionedEntry,
pkg/api createLogEntry): envelope (422), implementation for the version (400),
the full parse and verification (400), then, on the insertion path only, the
kind allow-list and the client algorithm policy (400).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from rekor_py.errors import InvalidEntry, UnprocessableEntity
from rekor_py.types.base import EntryType

__all__ = [
    "DEFAULT_CLIENT_SIGNING_ALGORITHMS",
    "KNOWN_KINDS",
    "EntryType",
    "entry_type",
    "parse_entry",
    "register",
    "registered",
]

# The ProposedEntry discriminator values of Rekor's OpenAPI document: a kind
# outside this list is a 422; a kind inside it without an implementation here
# is a 400 ("implementation for version ... not found").
KNOWN_KINDS = frozenset(
    {"alpine", "cose", "dsse", "hashedrekord", "helm", "intoto", "jar", "rekord", "rfc3161", "rpm", "tuf"}
)

# Semantic version, the apiVersion pattern of every kind in openapi.yaml.
_API_VERSION = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)

_REGISTRY: dict[tuple[str, str], type[EntryType]] = {}

_E = TypeVar("_E", bound=type[EntryType])


def register(cls: _E) -> _E:
    """Class decorator: make `cls` the implementation of (cls.kind, cls.api_version)."""
    key = (cls.kind, cls.api_version)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"duplicate entry type {key}")
    _REGISTRY[key] = cls
    return cls


def registered() -> dict[tuple[str, str], type[EntryType]]:
    """A copy of the registry, for listing and tests."""
    return dict(_REGISTRY)


def entry_type(kind: str, api_version: str) -> type[EntryType]:
    """The implementation of (kind, api_version); raises InvalidEntry as Rekor does when missing."""
    cls = _REGISTRY.get((kind, api_version))
    if cls is None:
        raise InvalidEntry(f"{kind} implementation for version '{api_version}' not found")
    return cls


def parse_entry(
    obj: Any,
    *,
    insertable_kinds: frozenset[str] | None = None,
    client_signing_algorithms: frozenset[str] | None = None,
) -> EntryType:
    """Parse and verify a ProposedEntry (already JSON-decoded) into its entry type.

    `insertable_kinds` marks the insertion path (POST /log/entries): the kind must
    be in it, and hashedrekord then also passes the client algorithm policy
    (`client_signing_algorithms`, Rekor's default when None). Leave it None to
    parse for search, which Rekor does without either check.
    Raises UnprocessableEntity (422) for envelope errors, InvalidEntry (400) otherwise.
    """
    kind, api_version, spec = _parse_envelope(obj)
    cls = entry_type(kind, api_version)
    entry = cls.from_spec(spec)
    if insertable_kinds is not None:
        if kind not in insertable_kinds:
            raise InvalidEntry(f"entry kind '{kind}' is not enabled for submission on this server")
        entry.verify_insertable()
        allowed = DEFAULT_CLIENT_SIGNING_ALGORITHMS if client_signing_algorithms is None else client_signing_algorithms
        entry.verify_client_algorithms(allowed)
    return entry


def _parse_envelope(obj: Any) -> tuple[str, str, Mapping[str, Any]]:
    """(kind, apiVersion, spec) of a ProposedEntry, with go-swagger's 422 messages."""
    if not isinstance(obj, dict):
        raise UnprocessableEntity("ProposedEntry must be a JSON object")
    kind = obj.get("kind")
    if kind is None or kind == "":
        raise UnprocessableEntity("kind in body is required")
    if not isinstance(kind, str):
        raise UnprocessableEntity("kind in body must be of type string")
    if kind not in KNOWN_KINDS:
        # Quoted back as Rekor does, but cut short: a megabyte "kind" is not
        # worth echoing (api/problems.py also clips and escapes it in the log).
        shown = kind if len(kind) <= 100 else kind[:100] + f"... ({len(kind)} characters)"
        raise UnprocessableEntity(f'invalid kind value: "{shown}"')
    api_version = obj.get("apiVersion")
    if api_version is None:
        raise UnprocessableEntity("apiVersion in body is required")
    if not isinstance(api_version, str):
        raise UnprocessableEntity("apiVersion in body must be of type string")
    if _API_VERSION.fullmatch(api_version) is None:
        raise UnprocessableEntity(f"apiVersion in body should match '{_API_VERSION.pattern}'")
    spec = obj.get("spec")
    if spec is None:
        raise UnprocessableEntity("spec in body is required")
    if not isinstance(spec, dict):
        # Rekor's per-kind decoders refuse a non-object spec with a 400.
        raise InvalidEntry(f"unsupported input type {_json_type(spec)} for spec")
    return kind, api_version, spec


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


# ---- the one list of enabled kinds: importing a version module registers it ----------
# (At the bottom because those modules use `register`, defined above.)
from rekor_py.types.dsse import v0_0_1 as _dsse_v0_0_1  # noqa: E402,F401
from rekor_py.types.hashedrekord import v0_0_1 as _hashedrekord_v0_0_1  # noqa: E402,F401
from rekor_py.types.hashedrekord.v0_0_1 import DEFAULT_CLIENT_SIGNING_ALGORITHMS  # noqa: E402
from rekor_py.types.intoto import v0_0_1 as _intoto_v0_0_1  # noqa: E402,F401
from rekor_py.types.intoto import v0_0_2 as _intoto_v0_0_2  # noqa: E402,F401
from rekor_py.types.rekord import v0_0_1 as _rekord_v0_0_1  # noqa: E402,F401
