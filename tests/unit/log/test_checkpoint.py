"""Checkpoints (docs/rekor-compat.md#checkpoint): exact bytes, round trips, a rejection
table, verification."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from rekor_py.log.checkpoint import (
    MAX_CHECKPOINT_BYTES,
    Checkpoint,
    CheckpointError,
    NoteSignature,
    format_checkpoint,
    origin_for,
    parse_checkpoint,
    verify_checkpoint,
)
from rekor_py.log.signer import LogSigner

ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()
SIG_B64 = base64.b64encode(b"\x01\x02\x03\x04" + b"sig-bytes").decode()
GOOD = f"rekor.example - 42\n10\n{ROOT_B64}\n\n\u2014 rekor.example {SIG_B64}\n"

# Production rekor.sigstore.dev checkpoint (bundle_v3_github.whl.sigstore).
PROD_KEY_DER = base64.b64decode(
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6"
    "yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==")
PROD_CHECKPOINT = (
    "rekor.sigstore.dev - 2605736670972794746\n75441653\n"
    "uAqI3id6JHPMMNUltHIKHuX1kVHpm5y7jSfnbaRO+E4=\n\n"
    "\u2014 rekor.sigstore.dev wNI9ajBGAiEA5perJLLm94gCQOQT5/vO29OXWNZ1SoengZDZ/U6vsOUCIQDBL0"
    "BIkCjWGR6V622znnVpXF5D1g0jPgajBlHh8uSc8g==\n")


def test_origin_for() -> None:
    assert origin_for("rekor.sigstore.dev", 2605736670972794746) == \
        "rekor.sigstore.dev - 2605736670972794746"


def test_body_exact_bytes() -> None:
    cp = Checkpoint("rekor.example - 42", 10, ROOT)
    assert cp.body() == f"rekor.example - 42\n10\n{ROOT_B64}\n".encode()
    cp2 = Checkpoint("o", 0, ROOT, ("Timestamp: 1700000000000000000",))
    assert cp2.body() == f"o\n0\n{ROOT_B64}\nTimestamp: 1700000000000000000\n".encode()


def test_format_exact_shape_and_round_trip() -> None:
    signer = LogSigner.generate()
    cp = Checkpoint(origin_for("rekor.example", 42), 10, ROOT)
    text = format_checkpoint(cp, signer, "rekor.example")
    body, sep, line = text.partition("\n\n")
    assert body + "\n" == cp.body().decode() and sep == "\n\n"
    assert line.startswith("\u2014 rekor.example ") and line.endswith("\n")
    assert line.count("\n") == 1
    raw = base64.b64decode(line.split(" ")[2])
    assert raw[:4] == signer.log_id[:4]
    signer.verifier.verify(raw[4:], cp.body())

    parsed = parse_checkpoint(text)
    assert parsed.checkpoint == cp
    assert parsed.signatures == (NoteSignature("rekor.example", signer.key_hint, raw[4:]),)
    assert parsed.signatures[0].format() == line
    assert verify_checkpoint(text, signer.verifier) == cp
    assert verify_checkpoint(text, signer.verifier, name="rekor.example") == cp


def test_round_trip_extra_lines_and_empty_tree() -> None:
    signer = LogSigner(ed25519.Ed25519PrivateKey.generate())
    cp = Checkpoint("o - 1", 0, hashlib.sha256(b"").digest(), ("Timestamp: 1", "x: y z"))
    text = format_checkpoint(cp, signer, "o")
    assert verify_checkpoint(text, signer.verifier) == cp
    # Ed25519 keeps Rekor's key hint (log_id[:4]), not the C2SP one
    # (docs/rekor-compat.md#trap-key-hint).
    assert parse_checkpoint(text).signatures[0].key_hint == signer.log_id[:4]


def test_parse_production_checkpoint_and_verify() -> None:
    from rekor_py.log.signer import LogVerifier
    signed = parse_checkpoint(PROD_CHECKPOINT)
    assert signed.checkpoint.origin == "rekor.sigstore.dev - 2605736670972794746"
    assert signed.checkpoint.size == 75441653
    assert signed.signatures[0].name == "rekor.sigstore.dev"
    assert signed.signatures[0].key_hint.hex() == "c0d23d6a"
    v = LogVerifier.from_der(PROD_KEY_DER)
    assert verify_checkpoint(PROD_CHECKPOINT, v, name="rekor.sigstore.dev") == signed.checkpoint
    with pytest.raises(CheckpointError, match="no signature named 'x'"):
        verify_checkpoint(PROD_CHECKPOINT, v, name="x")


def test_parse_splits_at_last_blank_line_and_keeps_all_signatures() -> None:
    other = base64.b64encode(b"\x09\x09\x09\x09" + b"s2").decode()
    text = GOOD + f"\u2014 witness.example/w1 {other}\n"
    signed = parse_checkpoint(text)
    assert [s.name for s in signed.signatures] == ["rekor.example", "witness.example/w1"]
    assert signed.signatures[1].key_hint == b"\x09" * 4 and signed.signatures[1].signature == b"s2"


REJECTED = [
    ("missing-final-newline", GOOD[:-1], "must end with a newline"),
    ("no-blank-line", GOOD.replace("\n\n", "\n"), "no blank line"),
    ("no-signature-line", GOOD.split("\n\n")[0] + "\n\n", "no signature line"),
    ("size-leading-zero", GOOD.replace("\n10\n", "\n010\n"), "leading zeros"),
    ("size-01", GOOD.replace("\n10\n", "\n01\n"), "leading zeros"),
    ("size-negative", GOOD.replace("\n10\n", "\n-1\n"), "tree size"),
    ("size-plus", GOOD.replace("\n10\n", "\n+1\n"), "tree size"),
    ("size-unicode-digit", GOOD.replace("\n10\n", "\n1\u0661\n"), "tree size"),
    ("size-int64-overflow", GOOD.replace("\n10\n", f"\n{1 << 63}\n"), "tree size"),
    ("size-empty", GOOD.replace("\n10\n", "\n\n"), "tree size ''"),
    ("root-bad-b64", GOOD.replace(ROOT_B64, "!" + ROOT_B64[1:]), "root hash is not valid base64"),
    ("root-no-padding", GOOD.replace(ROOT_B64, ROOT_B64.rstrip("=")), "root hash is not valid"),
    ("root-31-bytes", GOOD.replace(ROOT_B64, base64.b64encode(ROOT[:31]).decode()),
     "31 bytes, want 32"),
    ("root-33-bytes", GOOD.replace(ROOT_B64, base64.b64encode(ROOT + b"x").decode()),
     "33 bytes"),
    ("root-urlsafe", GOOD.replace(ROOT_B64, base64.urlsafe_b64encode(b"\xff" * 32).decode()),
     "root hash is not valid base64"),
    ("too-few-body-lines", f"o\n10\n\n\u2014 n {SIG_B64}\n", "needs origin"),
    ("empty-origin", GOOD.replace("rekor.example - 42\n", "\n", 1), "origin is empty"),
    ("empty-extra-line", GOOD.replace(f"{ROOT_B64}\n", f"{ROOT_B64}\nx\n\n\n"), "empty line"),
    ("hyphen-not-em-dash", GOOD.replace("\u2014", "-"), "EM DASH"),
    ("en-dash", GOOD.replace("\u2014", "\u2013"), "EM DASH"),
    ("dash-without-space", GOOD.replace("\u2014 ", "\u2014"), "EM DASH"),
    ("sig-missing-b64", f"{GOOD.split(chr(10) + chr(10))[0]}\n\n\u2014 rekor.example\n",
     "'— <name> <base64>'"),
    ("sig-double-space", GOOD.replace(" rekor.example ", " rekor.example  "), "<name>"),
    ("sig-extra-field", GOOD.replace(f"{SIG_B64}\n", f"{SIG_B64} x\n"), "<name>"),
    ("sig-bad-b64", GOOD.replace(SIG_B64, "***"), "signature is not valid base64"),
    ("sig-too-short", GOOD.replace(SIG_B64, base64.b64encode(b"\x01\x02\x03\x04").decode()),
     "too short"),
    ("sig-name-plus", GOOD.replace(" rekor.example ", " a+b "), "invalid key name"),
    ("crlf", GOOD.replace("\n", "\r\n"), "control characters"),
    ("nul", GOOD.replace("rekor.example - 42", "rekor\x00"), "control characters"),
    ("trailing-blank-line", GOOD + "\n", "no signature line"),
    ("oversize", GOOD.replace("rekor.example - 42", "o" * MAX_CHECKPOINT_BYTES), "larger than"),
    ("oversize-utf8", GOOD.replace("rekor.example - 42", "\u00e9" * (MAX_CHECKPOINT_BYTES // 2)),
     "larger than"),
    ("too-many-signatures", GOOD + f"\u2014 n {SIG_B64}\n" * 64, "more than 64 signatures"),
]


@pytest.mark.parametrize("name, text, match", REJECTED, ids=[r[0] for r in REJECTED])
def test_parse_rejects(name: str, text: str, match: str | None) -> None:
    assert text != GOOD
    with pytest.raises(CheckpointError, match=None if match is None else _re(match)):
        parse_checkpoint(text)


def _re(text: str) -> str:
    import re
    return re.escape(text)


def test_parse_good_baseline() -> None:
    assert parse_checkpoint(GOOD).checkpoint == Checkpoint("rekor.example - 42", 10, ROOT)


def test_parse_rejects_bytes() -> None:
    with pytest.raises(CheckpointError, match="must be text"):
        parse_checkpoint(GOOD.encode())  # type: ignore[arg-type]


@pytest.mark.parametrize("args, match", [
    (("", 1, ROOT), "origin"),
    (("a\nb", 1, ROOT), "origin"),
    (("o", -1, ROOT), "tree size"),
    (("o", 1 << 63, ROOT), "tree size"),
    (("o", True, ROOT), "tree size"),
    (("o", 1, ROOT[:31]), "32 bytes"),
    (("o", 1, ROOT, ("",)), "extra line"),
    (("o", 1, ROOT, ("a\nb",)), "extra line"),
])
def test_checkpoint_invariants(args: tuple[object, ...], match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        Checkpoint(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\nb"])
def test_format_rejects_bad_names(name: str) -> None:
    with pytest.raises(CheckpointError, match="invalid key name"):
        format_checkpoint(Checkpoint("o", 1, ROOT), LogSigner.generate(), name)


def test_verify_rejections() -> None:
    signer, other = LogSigner.generate(), LogSigner.generate()
    cp = Checkpoint("rekor.example - 42", 10, ROOT)
    text = format_checkpoint(cp, signer, "rekor.example")
    with pytest.raises(CheckpointError, match="no signature with key hint"):
        verify_checkpoint(text, other.verifier)
    # Same size digits, different value: the body changes, the signature must fail.
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(text.replace("\n10\n", "\n11\n"), signer.verifier)
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(text.replace("- 42", "- 43"), signer.verifier)
    # A line with our key hint but a bad signature rejects the note, even next to a good one.
    bad = NoteSignature("rekor.example", signer.key_hint, b"\x30\x00").format()
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_checkpoint(text + bad, signer.verifier)
    # Signature lines with other hints are ignored.
    foreign = NoteSignature("witness", b"\xff" * 4, b"whatever").format()
    assert verify_checkpoint(text + foreign, signer.verifier) == cp
