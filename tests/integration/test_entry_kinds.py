"""Every insertable kind and signature format over real HTTP on a real PostgreSQL.

Signatures are made by the real tools (openssl, gpg, ssh-keygen, minisign) and
DSSE envelopes by independent signers; each entry is posted, read back and
fully verified (inclusion proof, checkpoint, SET, body = our canonical bytes),
then found again by its artifact hash, its key and its email where it has one.
A table of rejections asserts the 400 and its message and that the
tree did not grow.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sigstore.dsse as sigstore_dsse
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from rekor_py.client.verify import parse_log_entry_answer, verify_log_entry
from rekor_py.log.signer import LogVerifier
from rekor_py.types import parse_entry
from tests.integration.logserver import RunningLog, log_settings, post_entry, start_log
from tests.integration.test_search import make_certificate
from tests.tools.entries import with_changes
from tests.tools.gpg import GnuPG
from tests.tools.minisign import minisign_key
from tests.tools.openssl import openssl_key
from tests.tools.ssh_keygen import ssh_keygen

ALL_KINDS = frozenset({"hashedrekord", "rekord", "intoto", "dsse"})


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Signed:
    """A proposed entry and what a user would search for it by."""

    name: str
    proposed: dict[str, Any]
    artifact_hash: str  # "<alg>:<hex>" of the signed artifact (or in-toto subject)
    key: tuple[str, bytes]  # (publicKey.format, key bytes as the user holds them)
    email: str | None = None
    attestation: bytes | None = None  # what GET must serve as attestation.data
    entry_id: str = field(default="", init=False)


def rekord(name: str, pki_format: str, signature: bytes, key: bytes, artifact: bytes,
           email: str | None = None) -> Signed:
    proposed = {"kind": "rekord", "apiVersion": "0.0.1", "spec": {
        "signature": {"format": pki_format, "content": b64(signature), "publicKey": {"content": b64(key)}},
        "data": {"content": b64(artifact)}}}
    return Signed(name, proposed, f"sha256:{hashlib.sha256(artifact).hexdigest()}", (pki_format, key), email)


def hashedrekord(name: str, signature: bytes, key: bytes, artifact: bytes, email: str | None = None) -> Signed:
    digest = hashlib.sha256(artifact).hexdigest()
    proposed = {"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
        "signature": {"content": b64(signature), "publicKey": {"content": b64(key)}},
        "data": {"hash": {"algorithm": "sha256", "value": digest}}}}
    return Signed(name, proposed, f"sha256:{digest}", ("x509", key), email)


def x509_entries(workdir: Path) -> list[Signed]:
    """rekord/x509 with openssl keys (P-256, RSA, Ed25519, a certificate), and a hashedrekord."""
    artifact = workdir / "x509-artifact.bin"
    artifact.write_bytes(b"an artifact signed with openssl\n")
    out = []
    for kind in ("p256", "rsa2048", "ed25519"):
        key = openssl_key(kind, workdir)
        out.append(rekord(f"rekord-x509-{kind}", "x509", key.sign(artifact), key.public_pem,
                          artifact.read_bytes()))
    key = openssl_key("p256", workdir)
    cert = key.self_signed_cert("x509-signer@example.com", workdir)
    out.append(rekord("rekord-x509-cert", "x509", key.sign(artifact), cert, artifact.read_bytes(),
                      "x509-signer@example.com"))
    other = workdir / "hashed-artifact.bin"
    other.write_bytes(b"a hashedrekord artifact\n")
    out.append(hashedrekord("hashedrekord-cert", key.sign(other), cert, other.read_bytes(),
                            "x509-signer@example.com"))
    return out


def pgp_entries(workdir: Path) -> list[Signed]:
    """rekord/pgp: gpg Ed25519 and NIST P-256 keys, armored and binary detached signatures."""
    gpg = GnuPG.create(workdir / "gnupg")
    artifact = b"an artifact signed with gpg\n"
    out = []
    for algo, armor in (("ed25519", True), ("nistp256", False)):
        email = f"pgp-{algo}@example.com"
        fpr = gpg.generate(f"PGP Signer <{email}>", algo, "sign")
        key = gpg.export(fpr, armor=armor)
        out.append(rekord(f"rekord-pgp-{algo}", "pgp", gpg.sign(fpr, artifact, armor=armor), key,
                          artifact, email))
    return out


def ssh_entries(workdir: Path) -> list[Signed]:
    """rekord/ssh: ssh-keygen Ed25519 (comment is an email: indexed) and ECDSA keys, SSHSIG."""
    artifact = workdir / "ssh-artifact.bin"
    artifact.write_bytes(b"an artifact signed with ssh-keygen -Y sign\n")
    out = []
    for key_type, comment, email in (("ed25519", "ssh-signer@example.com", "ssh-signer@example.com"),
                                     ("ecdsa", "builder host", None)):
        key = ssh_keygen(workdir, key_type, comment)
        out.append(rekord(f"rekord-ssh-{key_type}", "ssh", key.sign(artifact), key.public_line,
                          artifact.read_bytes(), email))
    return out


def minisign_entries(workdir: Path) -> list[Signed]:
    """rekord/minisign: the minisign tool's prehashed (ED, its default) and legacy (Ed) signatures."""
    artifact = workdir / "minisign-artifact.bin"
    artifact.write_bytes(b"an artifact signed with minisign\n")
    key = minisign_key(workdir, "minisign")
    return [rekord(f"rekord-minisign-{'legacy' if legacy else 'prehashed'}", "minisign",
                   key.sign(artifact, legacy=legacy), key.public_file, artifact.read_bytes())
            for legacy in (False, True)]


def _statement(artifact: bytes) -> sigstore_dsse.Statement:
    subject = sigstore_dsse.Subject(name="release.tar", digest=sigstore_dsse.DigestSet(
        root={"sha256": hashlib.sha256(artifact).hexdigest()}))
    return (sigstore_dsse.StatementBuilder().subjects([subject])
            .predicate_type("https://slsa.dev/provenance/v1")
            .predicate({"buildDefinition": {"buildType": "https://example.com/make"}}).build())


def dsse_entries(workdir: Path) -> list[Signed]:
    """dsse and intoto 0.0.1 / 0.0.2: in-toto statements signed by sigstore-python's DSSE code."""
    out = []
    email = "attester@example.com"
    for version, artifact in (("dsse", b"attested by dsse"), ("intoto-0.0.1", b"attested by intoto 0.0.1"),
                              ("intoto-0.0.2", b"attested by intoto 0.0.2")):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = make_certificate(key, email, "https://ci.example.com/attest")
        statement = _statement(artifact)
        envelope = sigstore_dsse._sign(key, statement).to_json()
        subject_hash = f"sha256:{hashlib.sha256(artifact).hexdigest()}"
        if version == "dsse":
            proposed = {"kind": "dsse", "apiVersion": "0.0.1", "spec": {"proposedContent": {
                "envelope": envelope, "verifiers": [b64(cert)]}}}
            out.append(Signed(version, proposed, subject_hash, ("x509", cert), email))
        elif version == "intoto-0.0.1":
            proposed = {"kind": "intoto", "apiVersion": "0.0.1", "spec": {
                "content": {"envelope": envelope}, "publicKey": b64(cert)}}
            out.append(Signed(version, proposed, subject_hash, ("x509", cert), email,
                              attestation=statement._contents))
        else:
            env = json.loads(envelope)
            proposed = {"kind": "intoto", "apiVersion": "0.0.2", "spec": {"content": {
                "envelope": {"payloadType": env["payloadType"], "payload": b64(env["payload"].encode()),
                             "signatures": [{"sig": b64(sig["sig"].encode()), "publicKey": b64(cert)}
                                            for sig in env["signatures"]]},
                "hash": {"algorithm": "sha256", "value": hashlib.sha256(envelope.encode()).hexdigest()}}}}
            out.append(Signed(version, proposed, subject_hash, ("x509", cert), email,
                              attestation=statement._contents))
    return out


# Each builder makes entries in its own directory; new formats add one line.
BUILDERS: list[Callable[[Path], list[Signed]]] = [
    x509_entries, pgp_entries, ssh_entries, minisign_entries, dsse_entries]


@dataclass
class Corpus:
    log: RunningLog
    verifier: LogVerifier
    entries: list[Signed]


@pytest.fixture(scope="module")
async def corpus(database_url_module: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Corpus]:
    log = await start_log(log_settings(database_url_module, tmp_path_factory.mktemp("kinds"),
                                       insertable_kinds=ALL_KINDS))
    entries = [e for build in BUILDERS for e in build(tmp_path_factory.mktemp("signers"))]
    async with aiohttp.ClientSession() as s:
        for entry in entries:
            status, body, _ = await post_entry(s, log.url, entry.proposed)
            assert status == 201, (entry.name, body)
            entry.entry_id = next(iter(body))
        async with s.get(f"{log.url}/api/v1/log/publicKey") as r:
            verifier = LogVerifier.from_pem(await r.read())
    yield Corpus(log, verifier, entries)
    await log.stop()


def _names(corpus: Corpus) -> list[str]:
    return [e.name for e in corpus.entries]


async def _get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.json(content_type=None) if r.content_length != 0 else None


async def _search(url: str, query: Any) -> list[str]:
    async with aiohttp.ClientSession() as s, s.post(f"{url}/api/v1/index/retrieve", json=query) as r:
        assert r.status == 200, await r.text()
        found: list[str] = await r.json()
        return found


async def test_corpus_covers_every_kind_and_format(corpus: Corpus) -> None:
    kinds = {(e.proposed["kind"], e.proposed["apiVersion"]) for e in corpus.entries}
    assert kinds == {("hashedrekord", "0.0.1"), ("rekord", "0.0.1"), ("intoto", "0.0.1"),
                     ("intoto", "0.0.2"), ("dsse", "0.0.1")}
    formats = {e.proposed["spec"]["signature"]["format"] for e in corpus.entries
               if e.proposed["kind"] == "rekord"}
    assert formats == {"x509", "pgp", "ssh", "minisign"}
    async with aiohttp.ClientSession() as s, s.get(f"{corpus.log.url}/api/v1/log") as r:
        assert (await r.json())["treeSize"] == len(corpus.entries)


async def test_each_entry_reads_back_verified(corpus: Corpus) -> None:
    for entry in corpus.entries:
        status, data = await _get(f"{corpus.log.url}/api/v1/log/entries/{entry.entry_id}")
        assert status == 200, entry.name
        answer = parse_log_entry_answer(data)
        verify_log_entry(answer, corpus.verifier)
        # The stored leaf is exactly the canonical body of what was proposed.
        assert answer.tlog.body == parse_entry(entry.proposed).canonicalize(), entry.name
        value = data[entry.entry_id]
        if entry.attestation is None:
            assert "attestation" not in value, entry.name
        else:
            assert base64.b64decode(value["attestation"]["data"]) == entry.attestation, entry.name


async def test_each_entry_is_found_by_hash_key_and_email(corpus: Corpus) -> None:
    url = corpus.log.url
    for entry in corpus.entries:
        by_hash = await _search(url, {"hash": entry.artifact_hash})
        assert entry.entry_id in by_hash, entry.name
        fmt, key = entry.key
        by_key = await _search(url, {"publicKey": {"format": fmt, "content": b64(key)}})
        assert entry.entry_id in by_key, entry.name
        if entry.email:
            assert entry.entry_id in await _search(url, {"email": entry.email.upper()}), entry.name
        both = await _search(url, {"hash": entry.artifact_hash, "publicKey": {"format": fmt, "content": b64(key)},
                                   "operator": "and"})
        assert both == sorted(set(by_hash) & set(by_key), key=by_hash.index), entry.name
        either = await _search(url, {"hash": entry.artifact_hash, "publicKey": {"format": fmt, "content": b64(key)}})
        assert set(either) == set(by_hash) | set(by_key), entry.name


async def test_search_results_are_exact(corpus: Corpus) -> None:
    """A key search finds exactly the entries made with that key, across kinds and formats."""
    url = corpus.log.url
    by_key: dict[tuple[str, bytes], set[str]] = {}
    for entry in corpus.entries:
        by_key.setdefault(entry.key, set()).add(entry.entry_id)
    for (fmt, key), ids in by_key.items():
        found = await _search(url, {"publicKey": {"format": fmt, "content": b64(key)}})
        assert set(found) == ids, fmt


async def test_duplicate_of_each_kind_is_409(corpus: Corpus) -> None:
    async with aiohttp.ClientSession() as s:
        for entry in corpus.entries[:: max(1, len(corpus.entries) // 6)]:
            status, body, headers = await post_entry(s, corpus.log.url, entry.proposed)
            assert status == 409, entry.name
            assert headers["Location"] == f"/api/v1/log/entries/{entry.entry_id}"


# ---- rejections over HTTP: 400, Rekor's body, and nothing written ------------------------


@dataclass
class Rejection:
    name: str
    proposed: dict[str, Any]
    message: str  # after "error processing entry: "


def _swap_key(entry: Signed, key: bytes) -> dict[str, Any]:
    return _swap(entry, "signature.publicKey.content", b64(key))


def _swap(entry: Signed, path: str, value: Any) -> dict[str, Any]:
    return with_changes(entry.proposed, {f"spec.{path}": value})


def rekord_rejections(corpus: Corpus, workdir: Path) -> list[Rejection]:
    """Per format: wrong key, tampered artifact, truncated and garbage signatures, and the format's own traps."""
    by_name = {e.name: e for e in corpus.entries}
    tampered = b64(b"tampered artifact\n")
    gpg = GnuPG.create(workdir / "gnupg-other")
    stranger = gpg.export(gpg.generate("Stranger <stranger@example.com>", "ed25519", "sign"))
    ssh_other = ssh_keygen(workdir, "ed25519", "other@example.com")
    ssh_artifact = workdir / "ssh-other-namespace.bin"
    ssh_artifact.write_bytes(b"signed for git, not for files\n")
    wrong_namespace = rekord("ns", "ssh", ssh_other.sign(ssh_artifact, namespace="git"),
                             ssh_other.public_line, ssh_artifact.read_bytes())
    sha256_sshsig = rekord("h", "ssh", ssh_other.sign(ssh_artifact, hash_alg="sha256"),
                           ssh_other.public_line, ssh_artifact.read_bytes())
    mini_other = minisign_key(workdir, "minisign-other")
    x509, pgp = by_name["rekord-x509-p256"], by_name["rekord-pgp-ed25519"]
    ssh, mini = by_name["rekord-ssh-ed25519"], by_name["rekord-minisign-prehashed"]
    return [
        Rejection("x509-wrong-key", _swap_key(x509, by_name["rekord-x509-ed25519"].key[1]),
                  "failed to verify signature"),
        Rejection("x509-tampered", _swap(x509, "data.content", tampered),
                  "invalid signature when validating ASN.1 encoded signature"),
        Rejection("x509-garbage-signature", _swap(x509, "signature.content", b64(b"\x30\x03garbage")),
                  "ecdsa: Invalid IEEE_P1363 encoded bytes"),
        Rejection("pgp-other-key", _swap_key(pgp, stranger), "openpgp: signature made by unknown entity"),
        Rejection("pgp-tampered", _swap(pgp, "data.content", tampered),
                  "openpgp: invalid signature: EdDSA verification failure"),
        Rejection("pgp-truncated", _swap(pgp, "signature.content", b64(
            base64.b64decode(pgp.proposed["spec"]["signature"]["content"])[:60])),
                  "invalid PGP signature: unexpected EOF"),
        Rejection("pgp-garbage", _swap(pgp, "signature.content", b64(b"garbage")),
                  "invalid PGP signature: openpgp: invalid data: tag byte does not have MSB set"),
        Rejection("ssh-wrong-key", _swap_key(ssh, ssh_other.public_line), "ssh: signature did not verify"),
        Rejection("ssh-tampered", _swap(ssh, "data.content", tampered), "ssh: signature did not verify"),
        Rejection("ssh-wrong-namespace", wrong_namespace.proposed, "invalid signature namespace: git"),
        Rejection("ssh-sha256", sha256_sshsig.proposed,
                  "unsupported hash algorithm: sha256 (only sha512 SSHSIG signatures verify)"),
        Rejection("ssh-garbage", _swap(ssh, "signature.content", b64(b"garbage")), "unable to decode pem file"),
        Rejection("minisign-wrong-key", _swap_key(mini, mini_other.public_file), "Incompatible key identifiers"),
        Rejection("minisign-tampered", _swap(mini, "data.content", tampered), "failed to verify signature"),
        Rejection("minisign-garbage", _swap(mini, "signature.content", b64(b"garbage")),
                  "invalid signature provided: 1 lines detected"),
    ]


# go-securesystemslib's wording when no signature verifies under the keys given.
NO_MATCH = "accepted signatures do not match threshold, Found: 0, Expected 1"


def dsse_rejections(corpus: Corpus) -> list[Rejection]:
    """A signature no verifier covers, a verifier that verifies nothing, a wrong key, a tampered payload."""
    by_name = {e.name: e for e in corpus.entries}
    dsse, intoto1, intoto2 = by_name["dsse"], by_name["intoto-0.0.1"], by_name["intoto-0.0.2"]
    key = ec.generate_private_key(ec.SECP256R1())
    stranger = make_certificate(key, "stranger@example.com", "https://stranger.example.com")
    envelope = json.loads(dsse.proposed["spec"]["proposedContent"]["envelope"])
    # Two signatures, the second by a key the entry does not name.
    second = json.loads(sigstore_dsse._sign(key, _statement(b"attested by dsse")).to_json())["signatures"][0]
    two_sigs = json.dumps({**envelope, "signatures": [*envelope["signatures"], second]})
    verifiers = dsse.proposed["spec"]["proposedContent"]["verifiers"]
    tampered_payload = json.dumps({**envelope, "payload": b64(b'{"_type":"tampered"}')})
    return [
        Rejection("dsse-uncovered-signature", _swap(dsse, "proposedContent.envelope", two_sigs),
                  "all signatures must have a key that verifies it"),
        Rejection("dsse-idle-verifier", _swap(dsse, "proposedContent.verifiers", [b64(stranger), *verifiers]),
                  "could not verify envelope: " + NO_MATCH),
        Rejection("dsse-wrong-key", _swap(dsse, "proposedContent.verifiers", [b64(stranger)]),
                  "could not verify envelope: " + NO_MATCH),
        Rejection("dsse-tampered", _swap(dsse, "proposedContent.envelope", tampered_payload),
                  "could not verify envelope: " + NO_MATCH),
        Rejection("dsse-client-hashes", _swap(dsse, "payloadHash", {"algorithm": "sha256", "value": "00" * 32}),
                  "either proposedContent or envelopeHash, payloadHash, and signatures must be present but not both"),
        Rejection("intoto-0.0.1-wrong-key", _swap(intoto1, "publicKey", b64(stranger)),
                  NO_MATCH),
        Rejection("intoto-0.0.2-uncovered", _swap(intoto2, "content.envelope.signatures", [
            *intoto2.proposed["spec"]["content"]["envelope"]["signatures"],
            {"sig": b64(second["sig"].encode()), "publicKey": intoto2.proposed["spec"]["content"]["envelope"]
             ["signatures"][0]["publicKey"]}]),
                  "all signatures must have a key that verifies it"),
        Rejection("intoto-0.0.2-wrong-key", _swap(intoto2, "content.envelope.signatures", [
            {**intoto2.proposed["spec"]["content"]["envelope"]["signatures"][0], "publicKey": b64(stranger)}]),
                  "could not verify envelope: " + NO_MATCH),
    ]


async def test_rejections_are_400_and_write_nothing(corpus: Corpus, tmp_path: Path) -> None:
    cases = rekord_rejections(corpus, tmp_path) + dsse_rejections(corpus)
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{corpus.log.url}/api/v1/log") as r:
            size = (await r.json())["treeSize"]
        results = {}
        for case in cases:
            status, body, _ = await post_entry(s, corpus.log.url, case.proposed)
            results[case.name] = (status, body)
        async with s.get(f"{corpus.log.url}/api/v1/log") as r:
            assert (await r.json())["treeSize"] == size  # nothing was written
    want = {c.name: (400, {"code": 400, "message": f"error processing entry: {c.message}"}) for c in cases}
    assert results == want


async def test_disabled_kind_is_refused_but_still_served(corpus: Corpus) -> None:
    """insertable_kinds gates POST only: a server allowing hashedrekord alone serves every stored kind."""
    settings = corpus.log.settings
    narrow = await start_log(log_settings(settings.database_url or "", settings.data_dir,
                                          insertable_kinds=frozenset({"hashedrekord"})))
    try:
        async with aiohttp.ClientSession() as s:
            fresh = rekord("fresh", "x509", *_fresh_x509_rekord(settings.data_dir))
            status, body, _ = await post_entry(s, narrow.url, fresh.proposed)
            assert (status, body) == (400, {"code": 400, "message": "error processing entry: entry kind "
                                            "'rekord' is not enabled for submission on this server"})
            for entry in corpus.entries:
                status, data = await _get(f"{narrow.url}/api/v1/log/entries/{entry.entry_id}")
                assert status == 200 and list(data) == [entry.entry_id], entry.name
    finally:
        await narrow.stop()


def _fresh_x509_rekord(workdir: Path) -> tuple[bytes, bytes, bytes]:
    artifact = workdir / "fresh-artifact.bin"
    artifact.write_bytes(b"never logged\n")
    key = openssl_key("p256", workdir)
    return key.sign(artifact), key.public_pem, artifact.read_bytes()


async def test_attestation_over_the_cap_is_not_kept(corpus: Corpus, tmp_path: Path) -> None:
    """Rekor skips storing a payload over --max_attestation_size and still logs the entry."""
    settings = corpus.log.settings
    entries = [e for e in dsse_entries(tmp_path) if e.name.startswith("intoto")]
    assert entries and all(e.attestation and len(e.attestation) > 64 for e in entries)
    small = await start_log(log_settings(settings.database_url or "", settings.data_dir,
                                         insertable_kinds=ALL_KINDS, max_attestation_bytes=64))
    try:
        async with aiohttp.ClientSession() as s:
            for entry in entries:
                status, body, _ = await post_entry(s, small.url, entry.proposed)
                assert status == 201, body
                entry_id = next(iter(body))
                assert "attestation" not in body[entry_id]
                status, data = await _get(f"{small.url}/api/v1/log/entries/{entry_id}")
                assert status == 200 and "attestation" not in data[entry_id], entry.name
    finally:
        await small.stop()


async def test_huge_san_is_logged_without_an_index_key(database_url: str, tmp_path: Path) -> None:
    """Regression (huge-index-key): a certificate SAN of 6,000 characters made the index
    key too long for PostgreSQL's btree, failing the whole batch with a 500.  Keys
    over 512 characters (Rekor's column) are not written; the entry is logged."""
    log = await start_log(log_settings(database_url, tmp_path))
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        uri = "https://example.com/" + secrets.token_hex(3000)  # random: PostgreSQL cannot compress it
        cert = make_certificate(key, "long-san@example.com", uri)
        artifact = b"signed by a certificate with a huge SAN"
        signature = key.sign(artifact, ec.ECDSA(hashes.SHA256()))
        async with aiohttp.ClientSession() as s:
            status, body, _ = await post_entry(s, log.url, hashedrekord("h", signature, cert, artifact).proposed)
            assert status == 201, body
            entry_id = next(iter(body))
        assert await _search(log.url, {"email": "long-san@example.com"}) == [entry_id]
        assert await _search(log.url, {"subject": uri[:512]}) == []
    finally:
        await log.stop()
