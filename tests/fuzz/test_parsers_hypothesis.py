"""Property tests on every parser of untrusted input: only its documented error escapes.

Each parser gets arbitrary input and real input with a few edits (mutate.py):
entry kinds through `parse_entry` (every kind in the registry), key and
signature parsers of every signature format (`rekor_py.pki.FORMATS`), Rekor and
C2SP checkpoints and verifier keys, tile paths and entry IDs.  New kinds and
formats are covered as soon as they are registered.  What may escape:

- parse_entry: a RekorError with a 4xx status (the handler's 400/422);
- a format's PublicKey.from_bytes: InvalidKeyError; Signature.from_bytes and
  verify: InvalidSignatureError;
- parse_checkpoint, verify_checkpoint, verify_c2sp_checkpoint, from_vkey: CheckpointError;
- TileID.parse: ValueError; the tile handler's path parser: InvalidRequest (400);
- parse_entry_id: InvalidRequest;
- json_limits.loads (request bodies, envelopes, statements): JSONLimitError,
  json's JSONDecodeError, UnicodeDecodeError; govalidator_email.is_email: nothing.

Anything that parses must also be usable (canonicalize, index keys, identities),
and a checkpoint that still verifies after an edit must say what was signed.
Case counts are bounded for CI; REKOR_PY_FUZZ_EXAMPLES raises them (README).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rekor_py import json_limits, merkle
from rekor_py.api.tiles import _parse_tile_path
from rekor_py.errors import InvalidRequest, RekorError
from rekor_py.log.c2sp import (
    NoteSigner,
    NoteVerifier,
    format_c2sp_checkpoint,
    verify_c2sp_checkpoint,
)
from rekor_py.log.checkpoint import (
    Checkpoint,
    CheckpointError,
    format_checkpoint,
    parse_checkpoint,
    verify_checkpoint,
)
from rekor_py.log.entries import parse_entry_id
from rekor_py.log.signer import LogSigner
from rekor_py.pki import FORMATS, InvalidKeyError, InvalidSignatureError
from rekor_py.pki.govalidator_email import is_email
from rekor_py.types import EntryType, parse_entry, registered
from tests.fuzz.conftest import fuzz_examples
from tests.fuzz.mutate import json_values, mutated_bytes, mutated_json, mutated_text
from tests.integration.logserver import signed_hashedrekord
from tests.unit.pki import PrivateKey, cert_pem, make_chain, spki_pem

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors" / "types"
# Rekor's per-format test keys and signatures, one folder per format (see SOURCE.md in each).
PKI_TESTDATA = REPO / "tests" / "vectors" / "pki"


def fuzz(ci_default: int) -> settings:
    return settings(max_examples=fuzz_examples(ci_default), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- entry kinds --------------------------------------------------------------------

KINDS = sorted(registered())
ALL_KINDS = frozenset(kind for kind, _ in KINDS)


def _vector_entries() -> list[dict[str, Any]]:
    """Every proposed entry in tests/vectors/types/<kind>/<version>/*.json."""
    found = []
    for path in sorted(VECTORS.glob("*/*/*.json")):
        data = json.loads(path.read_text())
        found.extend(item["proposed_entry"] for item in (data if isinstance(data, list) else [data])
                     if isinstance(item, dict) and isinstance(item.get("proposed_entry"), dict))
    return found


ENTRY_SEEDS = _vector_entries() + [signed_hashedrekord(b"fuzz")]


def _check_entry(obj: Any, insertable: frozenset[str] | None) -> None:
    try:
        entry = parse_entry(obj, insertable_kinds=insertable)
    except RekorError as e:
        assert 400 <= e.status < 500, f"{type(e).__name__} {e.status}: {e.client_message}"
        return
    assert isinstance(entry, EntryType)
    assert isinstance(entry.canonicalize(), bytes)
    entry.index_keys()
    entry.artifact_hash()
    entry.verifiers()
    entry.attestation()


def test_seed_entries_parse() -> None:
    """The seeds are valid, so the mutations start from entries that get all the way through."""
    assert {e["kind"] for e in ENTRY_SEEDS} >= {"hashedrekord"}
    for seed in ENTRY_SEEDS:
        parse_entry(seed, insertable_kinds=ALL_KINDS)


@fuzz(300)
@given(obj=json_values, insertable=st.sampled_from([None, ALL_KINDS]))
def test_parse_entry_arbitrary_json(obj: Any, insertable: frozenset[str] | None) -> None:
    _check_entry(obj, insertable)


@fuzz(300)
@given(kind_version=st.sampled_from(KINDS), spec=json_values,
       insertable=st.sampled_from([None, ALL_KINDS]))
def test_parse_entry_arbitrary_spec(kind_version: tuple[str, str], spec: Any,
                                    insertable: frozenset[str] | None) -> None:
    kind, version = kind_version
    _check_entry({"kind": kind, "apiVersion": version, "spec": spec}, insertable)


@fuzz(500)
@given(obj=mutated_json(ENTRY_SEEDS), insertable=st.sampled_from([None, ALL_KINDS]))
def test_parse_entry_mutated(obj: Any, insertable: frozenset[str] | None) -> None:
    _check_entry(obj, insertable)


# ---- signature formats --------------------------------------------------------------


def _generated_seeds() -> list[bytes]:
    """Keys, certificates and signatures made here (x509 and OpenSSH encodings)."""
    keys: list[PrivateKey] = [ec.generate_private_key(ec.SECP256R1()),
                              rsa.generate_private_key(65537, 2048),
                              ed25519.Ed25519PrivateKey.generate()]
    seeds = [spki_pem(k) for k in keys]
    seeds += [k.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                          serialization.PublicFormat.OpenSSH) for k in keys]
    p256 = keys[0]
    assert isinstance(p256, ec.EllipticCurvePrivateKey)
    leaf, inter, root = make_chain(p256, [x509.RFC822Name("fuzz@example.com")])
    seeds += [cert_pem(leaf), cert_pem(leaf, inter, root)]
    seeds.append(p256.sign(b"hello", ec.ECDSA(hashes.SHA256())))
    return seeds


def _file_seeds(name: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((PKI_TESTDATA / name).glob("*"))
            if p.is_file() and p.name != "SOURCE.md" and p.stat().st_size < 64 * 1024]


FORMAT_NAMES = sorted(FORMATS)
PKI_SEEDS = {name: _generated_seeds() + _file_seeds(name) for name in FORMAT_NAMES}


def test_pki_seed_corpus() -> None:
    """Every format has seeds, and the reference files are where the tests expect them."""
    assert PKI_TESTDATA.is_dir(), PKI_TESTDATA
    assert FORMAT_NAMES, "no signature formats registered"
    for name in FORMAT_NAMES:
        assert len(PKI_SEEDS[name]) > 3


def _pki_input(name: str) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=512) | mutated_bytes(PKI_SEEDS[name])


@st.composite
def _format_and_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    # The format's name, not its PKIFormat, so a failing example prints readably.
    name = draw(st.sampled_from(FORMAT_NAMES))
    return name, draw(_pki_input(name))


@fuzz(400)
@given(case=_format_and_bytes())
def test_public_key_parsers(case: tuple[str, bytes]) -> None:
    fmt, data = FORMATS[case[0]], case[1]
    try:
        key = fmt.public_key.from_bytes(data)
    except InvalidKeyError:
        return
    assert isinstance(key.canonical_value(), bytes)
    key.identities()
    with pytest.raises(InvalidSignatureError):
        key.verify(b"\x00" * 64, b"not signed")


@fuzz(300)
@given(case=_format_and_bytes(), data=st.binary(max_size=64))
def test_signature_parsers(case: tuple[str, bytes], data: bytes) -> None:
    fmt, raw = FORMATS[case[0]], case[1]
    try:
        sig = fmt.signature.from_bytes(raw)
    except InvalidSignatureError:
        return
    assert isinstance(sig.canonical_value(), bytes)
    for seed in PKI_SEEDS[fmt.name]:
        try:
            key = fmt.public_key.from_bytes(seed)
        except InvalidKeyError:
            continue
        with contextlib.suppress(InvalidSignatureError):
            sig.verify(data, key)
        break


@fuzz(200)
@given(data=_pki_input("x509"))
def test_x509_pem_keys(data: bytes) -> None:
    """The brief's own case: X509PublicKey.from_bytes raises only InvalidKeyError."""
    with contextlib.suppress(InvalidKeyError):
        FORMATS["x509"].public_key.from_bytes(data)


# ---- checkpoints and signed notes ---------------------------------------------------

_SIGNER = LogSigner.generate()
_NOTE_KEY = ed25519.Ed25519PrivateKey.generate()
_ROOT = hashlib.sha256(b"fuzz root").digest()
REKOR_CP = format_checkpoint(Checkpoint("rekor.example - 1234", 42, _ROOT, ()), _SIGNER,
                             "rekor.example")
_C2SP_SIGNERS = [s for s in (NoteSigner.for_log_key("log.example/tiles", _SIGNER),
                             NoteSigner.ed25519("log.example/tiles", _NOTE_KEY)) if s]
C2SP_CP = format_c2sp_checkpoint(Checkpoint("log.example/tiles", 42, _ROOT, ()), _C2SP_SIGNERS)
VKEYS = [s.verifier.vkey for s in _C2SP_SIGNERS]

_checkpoint_text = st.text(max_size=300) | mutated_text([REKOR_CP, C2SP_CP])


@fuzz(400)
@given(text=_checkpoint_text)
def test_parse_checkpoint(text: str) -> None:
    try:
        signed = parse_checkpoint(text)
    except CheckpointError:
        return
    # The parser accepts canonical input only: the body it read is the one it reproduces.
    assert text.startswith(signed.checkpoint.body().decode() + "\n")


@fuzz(300)
@given(text=_checkpoint_text)
def test_verify_checkpoint(text: str) -> None:
    try:
        cp = verify_checkpoint(text, _SIGNER.verifier)
    except CheckpointError:
        return
    assert (cp.size, cp.root_hash) == (42, _ROOT), "an edited checkpoint verified"


@fuzz(300)
@given(text=_checkpoint_text)
def test_verify_c2sp_checkpoint(text: str) -> None:
    verifiers = [s.verifier for s in _C2SP_SIGNERS]
    try:
        cp = verify_c2sp_checkpoint(text, verifiers)
    except CheckpointError:
        return
    assert (cp.origin, cp.size, cp.root_hash) == ("log.example/tiles", 42, _ROOT)


@fuzz(300)
@given(vkey=st.text(max_size=120) | mutated_text(VKEYS))
def test_note_verifier_keys(vkey: str) -> None:
    try:
        verifier = NoteVerifier.from_vkey(vkey)
    except CheckpointError:
        return
    assert verifier.vkey == vkey.strip()


# ---- tile paths and entry IDs -------------------------------------------------------

_TILE_PATHS = ["tile/0/000", "tile/0/x001/234.p/7", "tile/3/x999/x999/999", "tile/entries/001.p/255",
               "tile/entries/x123/456", "tile/63/000.p/1"]
_tile_text = (st.text(alphabet="0123456789x/.pentries", max_size=40).map(lambda s: "tile/" + s)
              | st.text(max_size=40) | mutated_text(_TILE_PATHS))


@fuzz(500)
@given(path=_tile_text)
def test_tile_paths(path: str) -> None:
    try:
        tile = merkle.TileID.parse(path)
    except ValueError:
        pass
    else:
        assert tile.path == path
    try:
        _parse_tile_path(path)
    except InvalidRequest as e:
        assert e.status == 400


def test_tile_path_seeds_parse() -> None:
    for path in _TILE_PATHS:
        _parse_tile_path(path)


@fuzz(300)
@given(value=st.text(alphabet="0123456789abcdefABCDEFx", max_size=90) | st.text(max_size=90))
def test_entry_ids(value: str) -> None:
    try:
        parsed = parse_entry_id(value)
    except InvalidRequest as e:
        assert e.status == 400
        return
    assert len(parsed.leaf_hash) == 32


# ---- request bodies and identities ------------------------------------------------------

_BODY_SEEDS = [json.dumps(e).encode() for e in ENTRY_SEEDS[:20]] + [
    b'{"n": 12345678901234567890, "f": -1.5e300, "a": [[[]]]}', b"[" * 70 + b"]" * 70]


@fuzz(400)
@given(body=st.binary(max_size=300) | mutated_bytes(_BODY_SEEDS)
       | st.builds(lambda n, d: b"[" * d + b"1" * n + b"]" * d, st.integers(0, 6000), st.integers(0, 100)))
def test_json_bodies(body: bytes) -> None:
    with contextlib.suppress(json_limits.JSONLimitError, json.JSONDecodeError, UnicodeDecodeError):
        json_limits.loads(body)


@fuzz(400)
@given(text=st.text(max_size=200) | mutated_text(["dev@example.com", '"a (b"@x.y.Z', "a@b.c."]))
def test_is_email_never_raises(text: str) -> None:
    assert isinstance(is_email(text), bool)
