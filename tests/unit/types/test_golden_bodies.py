"""Golden bodies: leaf bytes that real Rekor servers stored, reproduced byte for byte.

Every vector under tests/vectors/types/<kind>/<version>/golden/ is a canonical
body a Rekor server produced (a LogEntry `body`, a bundle's
`canonicalizedBody`, or, for the ocicl pgp entry, the body rebuilt from
`rekor-cli get` output and proven exact by its leaf hash, which is the entry's
UUID). SOURCE.md beside each cases.json says where each one came from.

Three depths of check, the deepest each vector allows:
- full: the original proposed entry (artifact + the signature and key the
  user sent, or a bundle's DSSE envelope and certificate) goes through
  parse_entry on the insertion path, and canonicalize() must equal the body;
- format: the stored key and signature must be fixed points of our format
  parsers (what go-crypto / x/crypto/ssh re-serialization guarantees), and
  the original key a user uploaded must canonicalize to the stored key;
- stored: parsing the stored (canonical) form must re-canonicalize to the
  same bytes, which is what search by entry relies on.
A mismatch here is a compatibility bug in the code, never in the vector.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from rekor_py.pki import FORMATS
from rekor_py.types import parse_entry
from rekor_py.types.base import canonical_json, leaf_hash

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "types"
REKORD = VECTORS / "rekord" / "0.0.1" / "golden"
DSSE = VECTORS / "dsse" / "0.0.1" / "golden"
INTOTO_1 = VECTORS / "intoto" / "0.0.1" / "golden"
INTOTO_2 = VECTORS / "intoto" / "0.0.2" / "golden"


def _cases(directory: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((directory / "cases.json").read_text())
    return cases


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c["name"] for c in cases]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _bundle(directory: Path, case: dict[str, Any]) -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((directory / case["bundle"]).read_text())
    return bundle


def _bundle_body(bundle: dict[str, Any]) -> bytes:
    entries = bundle["verificationMaterial"]["tlogEntries"]
    assert len(entries) == 1
    return base64.b64decode(entries[0]["canonicalizedBody"])


def _body(directory: Path, case: dict[str, Any]) -> bytes:
    if "bundle" in case:
        return _bundle_body(_bundle(directory, case))
    path: Path = directory / case["body"]
    return path.read_bytes()


ALL_BODIES = [
    (directory, case)
    for directory in (REKORD, DSSE, INTOTO_1, INTOTO_2)
    for case in _cases(directory)
]


def test_every_kind_has_golden_bodies() -> None:
    # Guards against a cases.json emptied by accident: the counts are those in SOURCE.md.
    counts = {d.parent.parent.name + "/" + d.parent.name: len(_cases(d)) for d in (REKORD, DSSE, INTOTO_1, INTOTO_2)}
    assert counts == {"rekord/0.0.1": 7, "dsse/0.0.1": 7, "intoto/0.0.1": 1, "intoto/0.0.2": 8}


@pytest.mark.parametrize(("directory", "case"), [c for c in ALL_BODIES if "leaf_hash" in c[1]],
                         ids=[c[1]["name"] for c in ALL_BODIES if "leaf_hash" in c[1]])
def test_body_is_the_logged_leaf(directory: Path, case: dict[str, Any]) -> None:
    """Where the entry UUID is known, the vector is exactly the leaf Rekor hashed."""
    assert leaf_hash(_body(directory, case)).hex() == case["leaf_hash"]


# A body Rekor wrote before it adopted JCS (2021: apiVersion, spec, kind in Go
# struct order) is kept for the format checks only: today's layout differs by design.
JCS_BODIES = [c for c in ALL_BODIES if not c[1].get("pre_jcs")]


@pytest.mark.parametrize(("directory", "case"), JCS_BODIES, ids=[c[1]["name"] for c in JCS_BODIES])
def test_stored_form_recanonicalizes_to_itself(directory: Path, case: dict[str, Any]) -> None:
    """Rebuilding the body from its own fields gives the same bytes (JCS, field layout, b64)."""
    body = _body(directory, case)
    stored = json.loads(body)
    if stored["kind"] == "rekord":
        # A stored rekord carries no content, so parse_entry refuses it (as Rekor
        # does); rebuild it from the re-canonicalized key and signature instead.
        sig = stored["spec"]["signature"]
        fmt = FORMATS[sig["format"]]
        spec = {
            "data": stored["spec"]["data"],
            "signature": {
                "content": _b64(fmt.signature.from_bytes(base64.b64decode(sig["content"])).canonical_value()),
                "format": sig["format"],
                "publicKey": {
                    "content": _b64(fmt.public_key.from_bytes(
                        base64.b64decode(sig["publicKey"]["content"])).canonical_value())
                },
            },
        }
        assert canonical_json("rekord", "0.0.1", spec) == body
    else:
        assert parse_entry(stored).canonicalize() == body


# ---- rekord: the format canonical forms --------------------------------------------


@pytest.mark.parametrize("case", _cases(REKORD), ids=_ids(_cases(REKORD)))
def test_rekord_stored_key_and_signature_are_fixed_points(case: dict[str, Any]) -> None:
    sig = json.loads(_body(REKORD, case))["spec"]["signature"]
    fmt = FORMATS[case["format"]]
    key = base64.b64decode(sig["publicKey"]["content"])
    signature = base64.b64decode(sig["content"])
    assert fmt.public_key.from_bytes(key).canonical_value() == key
    assert fmt.signature.from_bytes(signature).canonical_value() == signature


def test_pgp_gpg_exported_key_canonicalizes_to_the_key_rekor_stored() -> None:
    """ocicl's signer key as gpg exports it (old-format packet headers) -> go-crypto's re-serialization."""
    case = next(c for c in _cases(REKORD) if c["name"] == "pgp-ocicl-20300488")
    original = (REKORD / case["original_public_key"]).read_bytes()
    stored = base64.b64decode(json.loads(_body(REKORD, case))["spec"]["signature"]["publicKey"]["content"])
    assert original != stored  # the upload really was in another form
    assert FORMATS["pgp"].public_key.from_bytes(original).canonical_value() == stored


FULL_REKORD = [c for c in _cases(REKORD) if "artifact" in c]


@pytest.mark.parametrize("case", FULL_REKORD, ids=_ids(FULL_REKORD))
def test_rekord_full_path_reproduces_the_leaf(case: dict[str, Any]) -> None:
    """Artifact + the signature and key the user uploaded -> exactly Rekor's leaf."""
    body = _body(REKORD, case)
    stored = json.loads(body)["spec"]["signature"]
    if case["signature"] is None:
        # Only the stored (canonical) signature survives for this entry.
        signature = base64.b64decode(stored["content"])
    else:
        signature = (REKORD / case["signature"]).read_bytes()
    proposed = {
        "apiVersion": "0.0.1",
        "kind": "rekord",
        "spec": {
            "data": {"content": _b64((REKORD / case["artifact"]).read_bytes())},
            "signature": {
                "format": case["format"],
                "content": _b64(signature),
                "publicKey": {"content": _b64((REKORD / case["public_key"]).read_bytes())},
            },
        },
    }
    entry = parse_entry(proposed, insertable_kinds=frozenset({"rekord"}))
    assert entry.canonicalize() == body


def test_ssh_upload_was_not_already_canonical() -> None:
    # The full-path ssh case only proves re-armoring if the upload differs from what Rekor stored.
    case = next(c for c in FULL_REKORD if c["name"] == "ssh-integrate-rekor-1")
    stored = json.loads(_body(REKORD, case))["spec"]["signature"]
    assert (REKORD / case["signature"]).read_bytes() != base64.b64decode(stored["content"])
    assert (REKORD / case["public_key"]).read_bytes() != base64.b64decode(stored["publicKey"]["content"])


# ---- dsse 0.0.1 and intoto 0.0.2: proposed entries rebuilt from sigstore bundles -----


def _pem_certificate(der_b64: str) -> bytes:
    text = base64.b64encode(base64.b64decode(der_b64)).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode()


def _leaf_certificate(bundle: dict[str, Any]) -> str:
    material = bundle["verificationMaterial"]
    if "x509CertificateChain" in material:
        der: str = material["x509CertificateChain"]["certificates"][0]["rawBytes"]
    else:
        der = material["certificate"]["rawBytes"]
    return der


# The envelope text each client sent (its SHA-256 is the leaf's envelopeHash), as
# (top-level field order, per-signature field order): cosign marshals Go's dsse
# structs in declaration order, sigstore-js its own object order, sigstore-rs
# drops the empty keyid.
_ENVELOPE_LAYOUTS = {
    "cosign-oci-attestation": (("payloadType", "payload", "signatures"), ("keyid", "sig")),
    "sigstore-js-bundleV01-dsse-no-proof": (("payload", "payloadType", "signatures"), ("sig", "keyid")),
    "sigstore-rs-bundle_v03": (("payload", "payloadType", "signatures"), ("sig",)),
}


def _envelope_text(name: str, envelope: dict[str, Any]) -> str:
    order, sig_order = _ENVELOPE_LAYOUTS[name]
    signatures = [{k: s.get(k, "") for k in sig_order} for s in envelope["signatures"]]
    fields = {"payloadType": envelope["payloadType"], "payload": envelope["payload"], "signatures": signatures}
    return json.dumps({k: fields[k] for k in order}, separators=(",", ":"))


FULL_DSSE = [c for c in _cases(DSSE) if "bundle" in c]


@pytest.mark.parametrize("case", FULL_DSSE, ids=_ids(FULL_DSSE))
def test_dsse_full_path_reproduces_the_leaf(case: dict[str, Any]) -> None:
    bundle = _bundle(DSSE, case)
    body = _bundle_body(bundle)
    envelope = _envelope_text(case["name"], bundle["dsseEnvelope"])
    # The reconstruction is right only if it hashes to the envelopeHash Rekor stored.
    assert hashlib.sha256(envelope.encode()).hexdigest() == json.loads(body)["spec"]["envelopeHash"]["value"]
    proposed = {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope,
                                     "verifiers": [_b64(_pem_certificate(_leaf_certificate(bundle)))]}},
    }
    assert parse_entry(proposed, insertable_kinds=frozenset({"dsse"})).canonicalize() == body


FULL_INTOTO_2 = [c for c in _cases(INTOTO_2) if "bundle" in c]


@pytest.mark.parametrize("case", FULL_INTOTO_2, ids=_ids(FULL_INTOTO_2))
def test_intoto_v002_full_path_reproduces_the_leaf(case: dict[str, Any]) -> None:
    """Payload and signatures from the bundle; what the client alone chose (key text, keyid, hash) from the leaf."""
    bundle = _bundle(INTOTO_2, case)
    body = _bundle_body(bundle)
    content = json.loads(body)["spec"]["content"]
    envelope = bundle["dsseEnvelope"]
    # The leaf lists the signatures that were sent; a test bundle may carry extra
    # (sigstore-go's dsse-2sigs adds a forged one), so take the envelope's in leaf order.
    sent_sigs = {_b64(s["sig"].encode()) for s in envelope["signatures"]}
    signatures = []
    for stored in content["envelope"]["signatures"]:
        assert stored["sig"] in sent_sigs
        item = {"sig": stored["sig"], "publicKey": stored["publicKey"]}
        if "keyid" in stored:
            item["keyid"] = stored["keyid"]
        signatures.append(item)
    proposed = {
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {
                    "payloadType": envelope["payloadType"],
                    "payload": _b64(envelope["payload"].encode()),
                    "signatures": signatures,
                },
                "hash": content["hash"],
            }
        },
    }
    assert parse_entry(proposed, insertable_kinds=frozenset({"intoto"})).canonicalize() == body
