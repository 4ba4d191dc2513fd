"""Witness policies (c2sp.org/tlog-policy): parsing, and the quorum rule."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.log.c2sp import NoteVerifier
from rekor_py.witness.cosignature import CosignatureVerifier
from rekor_py.witness.policy import PolicyError, parse_policy


def _wkey(name: str) -> str:
    return CosignatureVerifier.of(name, ed25519.Ed25519PrivateKey.generate().public_key()).vkey


LOG = NoteVerifier.ed25519("log.example", ed25519.Ed25519PrivateKey.generate().public_key())


def test_the_spec_example_two_levels_of_groups() -> None:
    text = "\n".join([
        f"log {LOG.vkey} https://log.example",
        "",
        *(f"witness X{i} {_wkey(f'x{i}.example')}" for i in (1, 2, 3)),
        "group X-witnesses 2 X1 X2 X3",
        "  # a comment, indented",
        *(f"witness Y{i}\t{_wkey(f'y{i}.example')} https://y{i}.example/w" for i in (1, 2, 3)),
        "group Y-witnesses any Y1 Y2 Y3",
        "group X-and-Y all X-witnesses Y-witnesses",
        "quorum X-and-Y",
    ])
    policy = parse_policy(text)
    assert policy.logs[0][0] == LOG and policy.logs[0][1] == "https://log.example"
    assert policy.witnesses["Y2"].url == "https://y2.example/w"
    assert policy.satisfied({"X1", "X3", "Y2"})
    assert not policy.satisfied({"X1", "Y2"})      # one X only
    assert not policy.satisfied({"X1", "X2", "X3"})  # no Y
    assert policy.by_key_name()["x1.example"][0].name == "X1"


def test_quorum_none_and_single_witness() -> None:
    assert parse_policy("quorum none").satisfied(set())
    policy = parse_policy(f"witness W {_wkey('w')}\nquorum W\n")
    assert policy.satisfied({"W"}) and not policy.satisfied(set())


@pytest.mark.parametrize(("text", "why"), [
    ("", "no quorum"),
    ("quorum none\nquorum none", "second quorum"),
    ("quorum W", "not defined"),
    ("witness none {k}\nquorum none", "predefined"),
    ("witness W {k}\nwitness W {k2}\nquorum W", "already defined"),
    ("witness W {k}\nwitness V {k}\nquorum W", "duplicate key"),
    ("witness W {k}\ngroup G 2 W\nquorum G", "threshold"),
    ("witness W {k}\ngroup G 01 W\nquorum G", "threshold"),
    ("witness W {k}\ngroup G any W W\nquorum G", "twice"),
    ("group G any W\nwitness W {k}\nquorum G", "not defined"),
    ("witness W {log}\nquorum W", "type 0x04"),
    ("witness W {k}\nquorum W\nfrobnicate", "unknown keyword"),
    ("witness W {k} url extra\nquorum W", "expected"),
    ("witness W {k}\x00\nquorum W", "control"),
])
def test_bad_policies_name_their_line(text: str, why: str) -> None:
    text = text.format(k=_wkey("w"), k2=_wkey("w2"), log=LOG.vkey)
    with pytest.raises(PolicyError, match=why):
        parse_policy(text)
