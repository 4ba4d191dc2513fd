"""The real Go `rekor-cli` v1.5.4 against a real `rekor-py serve` (real HTTP, real
PostgreSQL), on every entry kind rekor-py logs, with signatures made by the real tools
(openssl, gpg, ssh-keygen, minisign; the DSSE envelopes are signed by openssl over their
PAE).

Trust comes from our own material, as in a private deployment: the log key rekor-cli
checks SETs, checkpoints and tree heads with is pinned through `REKOR_REKOR_SERVER_PUBLIC_KEY`
(the PEM itself) or `rekor_server_public_key` in `~/.rekor.yaml`.  rekor-cli v1.5.4 has no
command-line flag for it; with neither set it fetches `/api/v1/log/publicKey` from the
server it is checking.  A wrong pinned key makes `upload`, `get`, `verify` and `loginfo`
fail: that is what shows the pinned key is the one used.

What rekor-cli does, read from its source (`cmd/rekor-cli/app/*.go` at v1.5.4):

* `upload` builds the entry itself (checking the signature locally), posts it, and checks
  the SET, the inclusion proof and the checkpoint signature of the answer; a 409 prints
  "Entry already exists" with the `Location` of the existing entry.
* `get` checks the SET, the inclusion proof and the checkpoint.
* `verify --artifact ...` rebuilds the proposed entry, retrieves it with
  `POST /api/v1/log/entries/retrieve`, and requires the logged body to be byte for byte
  the canonical body Go's Rekor types would make of it (and its leaf hash to be the UUID),
  then checks the SET, inclusion proof and checkpoint.
* `loginfo` checks the tree head signature and, when `~/.rekor/state.json` holds an
  earlier tree head of the tree, its consistency with the new one
  (`GET /api/v1/log/proof`); it prints "Verification Successful!" and no separate
  consistency line, and stores the new tree head.
* `logproof` prints the server's consistency proof without checking it; the test checks
  it against an RFC 6962 computation of its own.

What rekor-cli v1.5.4 itself cannot do (so it is not tested here):

* `verify --type intoto` without a version sends an `{"ProposedEntry": {...}}` wrapper
  without `kind` (its `ProposedIntotoEntryIterator` is marshalled as is), which Rekor's
  own `SearchLogQuery` decoding refuses with 422 "kind in body is required"; rekor-py
  answers the same (tested), and `--type intoto:0.0.2` works (tested).  `upload` is not
  affected: it unwraps the iterator.
* `--public-key a,b` (the comma form its help suggests) fails the flag's own file check in
  `upload` and `verify`; repeating `--public-key` works and is what the two-signer DSSE
  test uses.
* `--artifact-hash` and `--sha` take sha1, sha256 and sha512 only (no `sha384:`).
* A hashedrekord with an Ed25519 key needs Ed25519ph, which openssl 3.0 cannot make.
* `verify` of a rekord whose PGP key has several user IDs fails in some runs ("returned
  entry does not match provided artifact inputs"): go-crypto serializes the identities in
  Go map order, so the canonical key rekor-cli rebuilds varies from run to run (against
  Rekor too, whose stored order is itself random).  The PGP key here has one user ID.

Where rekor-py differs from Rekor on purpose and a result shows it: a search by an x509
public key also finds the intoto and dsse entries signed by that key (Rekor looks up the
bare key hash only); see "Search" under "Where rekor-py differs on purpose" in
docs/rekor-compat.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from tests.interop.conftest import InteropLog
from tests.interop.rekor_cli import (
    RekorCli,
    UploadOutput,
    parse_upload,
    server_entry,
)

# RFC 6962 written out apart from the server's Merkle engine, to check what rekor-cli printed.
from tests.reference.rfc6962 import leaf_hash, mth, proof
from tests.tools.gpg import GnuPG
from tests.tools.minisign import minisign_key
from tests.tools.openssl import openssl_key
from tests.tools.ssh_keygen import ssh_keygen

ALICE = "alice@example.com"  # the x509 certificate's email SAN
ALICE_URI = "https://github.com/example/repo/.github/workflows/build.yml@refs/heads/main"
BOB = "bob@example.com"  # the PGP key's user ID
IN_TOTO = "application/vnd.in-toto+json"


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def _dsse_envelope(payload: bytes, signers: list[Callable[[Path], bytes]], work: Path) -> str:
    """A DSSE envelope over `payload`, each signature made over the PAE file by a signer."""
    pae = b"DSSEv1 %d %s %d %s" % (len(IN_TOTO), IN_TOTO.encode(), len(payload), payload)
    pae_file = work / f"pae-{hashlib.sha256(pae).hexdigest()[:12]}"
    pae_file.write_bytes(pae)
    signatures = [{"keyid": "", "sig": base64.b64encode(sign(pae_file)).decode()} for sign in signers]
    return json.dumps({"payloadType": IN_TOTO, "payload": base64.b64encode(payload).decode(),
                       "signatures": signatures})


@dataclass
class Material:
    """Files rekor-cli is handed, all in one folder."""

    work: Path
    artifact: Path
    artifact_sha256: str
    statement: str  # the in-toto statement both envelopes carry (about `artifact`)
    files: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return str(self.files[name])


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    work = tmp_path_factory.mktemp("rekor-cli-material")
    artifact = work / "artifact.txt"
    artifact.write_bytes(b"an artifact rekor-cli signs for rekor-py, " + str(time.time_ns()).encode() + b"\n")
    sha256 = hashlib.sha256(artifact.read_bytes()).hexdigest()
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v1", "predicateType": "https://example.com/test/v1",
        "subject": [{"name": artifact.name, "digest": {"sha256": sha256}}], "predicate": {}})
    m = Material(work, artifact, sha256, statement)

    def put(name: str, data: bytes | str) -> None:
        path = work / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        m.files[name] = path

    # x509: one P-256 key (bare and in a certificate with an email and a URI SAN).
    x509 = openssl_key("p256", work)
    put("x509.pub", x509.public_pem)
    put("x509.sig", x509.sign(artifact))
    _openssl("req", "-new", "-x509", "-key", x509.private_pem, "-out", work / "x509.crt", "-days", "30",
             "-subj", "/CN=rekor-cli test", "-addext", f"subjectAltName=email:{ALICE},URI:{ALICE_URI}")
    m.files["x509.crt"] = work / "x509.crt"
    # A P-521 key signing the SHA-512 digest, for a hashedrekord given by --artifact-hash sha512:.
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521", "-out", work / "p521.key")
    _openssl("pkey", "-in", work / "p521.key", "-pubout", "-out", work / "p521.pub")
    _openssl("dgst", "-sha512", "-sign", work / "p521.key", "-out", work / "p521.sig", artifact)
    m.files.update({"p521.pub": work / "p521.pub", "p521.sig": work / "p521.sig"})
    # PGP, SSH, minisign.
    gpg = GnuPG.create(work / "gnupg")
    fpr = gpg.generate(f"Bob <{BOB}>", "ed25519", "sign")
    put("pgp.pub", gpg.export(fpr))
    put("pgp.sig", gpg.sign(fpr, artifact.read_bytes(), armor=True))
    subprocess.run(["gpgconf", "--homedir", str(gpg.home), "--kill", "gpg-agent"],  # no agent left behind
                   check=False, capture_output=True, timeout=60)
    ssh = ssh_keygen(work, "ed25519", "carol")
    put("ssh.pub", ssh.public_line)
    put("ssh.sig", ssh.sign(artifact))
    mini = minisign_key(work, "mini")
    put("minisign.pub", mini.public_file)
    put("minisign.sig", mini.sign(artifact))
    # DSSE envelopes about the artifact: one signer (intoto), two signers (dsse).
    rsa = openssl_key("rsa2048", work)
    put("rsa.pub", rsa.public_pem)
    put("intoto.json", _dsse_envelope(statement.encode(), [x509.sign], work))
    dsse_statement = statement.replace("test/v1", "test/v2").encode()
    put("dsse.json", _dsse_envelope(dsse_statement, [x509.sign, rsa.sign], work))
    return m


@dataclass(frozen=True)
class Kind:
    """One way of logging the artifact with rekor-cli."""

    name: str
    upload: tuple[str, ...]  # rekor-cli upload arguments (file names in Material)
    verify: tuple[str, ...]  # rekor-cli verify arguments
    kind: str  # the logged body's kind and apiVersion
    api_version: str
    wrapper: str  # the field `rekor-cli get --format json` prints the body's spec under


def _args(*pairs: str) -> tuple[str, ...]:
    return pairs


KINDS = [
    Kind("hashedrekord-key", _args("--type", "hashedrekord", "--artifact", "@artifact",
                                   "--signature", "x509.sig", "--public-key", "x509.pub"),
         (), "hashedrekord", "0.0.1", "HashedRekordObj"),
    Kind("hashedrekord-cert", _args("--type", "hashedrekord", "--artifact-hash", "@sha256",
                                    "--signature", "x509.sig", "--public-key", "x509.crt"),
         (), "hashedrekord", "0.0.1", "HashedRekordObj"),
    Kind("hashedrekord-sha512", _args("--type", "hashedrekord", "--artifact-hash", "@sha512",
                                      "--signature", "p521.sig", "--public-key", "p521.pub"),
         (), "hashedrekord", "0.0.1", "HashedRekordObj"),
    Kind("rekord-x509", _args("--type", "rekord", "--pki-format", "x509", "--artifact", "@artifact",
                              "--signature", "x509.sig", "--public-key", "x509.pub"),
         (), "rekord", "0.0.1", "RekordObj"),
    Kind("rekord-pgp", _args("--type", "rekord", "--pki-format", "pgp", "--artifact", "@artifact",
                             "--signature", "pgp.sig", "--public-key", "pgp.pub"),
         (), "rekord", "0.0.1", "RekordObj"),
    Kind("rekord-ssh", _args("--type", "rekord", "--pki-format", "ssh", "--artifact", "@artifact",
                             "--signature", "ssh.sig", "--public-key", "ssh.pub"),
         (), "rekord", "0.0.1", "RekordObj"),
    Kind("rekord-minisign", _args("--type", "rekord", "--pki-format", "minisign", "--artifact", "@artifact",
                                  "--signature", "minisign.sig", "--public-key", "minisign.pub"),
         (), "rekord", "0.0.1", "RekordObj"),
    # No version: rekor-cli proposes its default (0.0.2) first.
    Kind("intoto", _args("--type", "intoto", "--artifact", "intoto.json", "--public-key", "x509.pub"),
         _args("--type", "intoto:0.0.2", "--artifact", "intoto.json", "--public-key", "x509.pub"),
         "intoto", "0.0.2", "IntotoObj"),
    Kind("intoto-0.0.1", _args("--type", "intoto:0.0.1", "--artifact", "intoto.json", "--public-key", "x509.pub"),
         (), "intoto", "0.0.1", "IntotoObj"),
    # Two signers; verify names their keys in the other order (dsse sorts its signatures).
    Kind("dsse", _args("--type", "dsse", "--artifact", "dsse.json", "--public-key", "x509.pub",
                       "--public-key", "rsa.pub"),
         _args("--type", "dsse", "--artifact", "dsse.json", "--public-key", "rsa.pub",
               "--public-key", "x509.pub"),
         "dsse", "0.0.1", "DSSEObj"),
]
KIND_NAMES = [k.name for k in KINDS]


def _resolve(args: tuple[str, ...], m: Material) -> list[str]:
    special = {"@artifact": str(m.artifact), "@sha256": m.artifact_sha256,
               "@sha512": "sha512:" + hashlib.sha512(m.artifact.read_bytes()).hexdigest()}
    return [special.get(a) or (m[a] if a in m.files else a) for a in args]


@dataclass
class Upload:
    kind: Kind
    sizes: tuple[int, int, int]  # tree size before, after the upload, after the repeat
    first: subprocess.CompletedProcess[str]
    again: subprocess.CompletedProcess[str]
    window: tuple[int, int]  # wall clock seconds around the first upload

    @property
    def created(self) -> UploadOutput:
        out = parse_upload(self.first.stdout)
        assert self.first.returncode == 0 and out is not None and out.created, (
            f"{self.kind.name}: upload failed ({self.first.returncode}):\n"
            f"{self.first.stdout}{self.first.stderr}")
        return out

    @property
    def entry_id(self) -> str:
        return self.created.entry_id

    @property
    def index(self) -> int:
        index = self.created.index
        assert index is not None
        return index


@pytest.fixture(scope="module")
def log_key_pem(interop_log: InteropLog) -> str:
    """The log's key as the operator hands it out (the file written at start-up)."""
    return interop_log.public_key_pem.read_text()


@pytest.fixture(scope="module")
def cli(interop_tools: dict[str, Path], interop_log: InteropLog, log_key_pem: str,
        tmp_path_factory: pytest.TempPathFactory) -> RekorCli:
    """rekor-cli with this module's HOME and the log key pinned."""
    return RekorCli(interop_tools["rekor-cli"], interop_log.url,
                    tmp_path_factory.mktemp("rekor-cli-home"), log_key_pem)


@pytest.fixture(scope="module")
def uploads(cli: RekorCli, material: Material, interop_log: InteropLog) -> dict[str, Upload]:
    """Each kind uploaded by rekor-cli, then uploaded again; the tests check the results."""
    done = {}
    for kind in KINDS:
        args = _resolve(kind.upload, material)
        before = interop_log.tree_size()
        start = int(time.time())
        first = cli.run("upload", *args, cwd=material.work)
        end = int(time.time()) + 1
        middle = interop_log.tree_size()
        again = cli.run("upload", *args, cwd=material.work)
        done[kind.name] = Upload(kind, (before, middle, interop_log.tree_size()), first, again,
                                 (start, end))
    return done


def _log_id(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _tree_id(interop_log: InteropLog) -> int:
    return int(str(interop_log.log_info()["treeID"]))


def _leaves(interop_log: InteropLog, size: int) -> list[bytes]:
    """The leaf hashes of the first `size` entries, from the bodies the server serves."""
    leaves = []
    for index in range(size):
        r = requests.get(f"{interop_log.url}/api/v1/log/entries", params={"logIndex": index}, timeout=10)
        r.raise_for_status()
        ((_, entry),) = r.json().items()
        leaves.append(leaf_hash(base64.b64decode(entry["body"])))
    return leaves


def _field(text: str, label: str) -> str:
    m = re.search(rf"^{re.escape(label)}:\s*(.*)$", text, re.MULTILINE)
    assert m, f"no {label!r} in:\n{text}"
    return m[1].strip()


# ---------------------------------------------------------------------------------------
# loginfo on the empty log (first: the module's log is empty until `uploads` runs)


def test_loginfo_on_the_empty_log(cli: RekorCli, interop_log: InteropLog, tmp_path: Path) -> None:
    assert interop_log.tree_size() == 0, "this test must run before the module's uploads"
    fresh = cli.with_key(cli.log_key_pem, home=tmp_path)
    done = fresh.run("loginfo")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Verification Successful!\n")
    assert _field(done.stdout, "Active Tree Size") == "0"
    assert _field(done.stdout, "Root Hash") == hashlib.sha256(b"").hexdigest()
    assert _field(done.stdout, "TreeID") == str(_tree_id(interop_log))
    assert "No previous log state stored" in done.stderr
    assert fresh.state() == {}  # rekor-cli keeps no state for an empty log


# ---------------------------------------------------------------------------------------
# upload


@pytest.mark.parametrize("name", KIND_NAMES)
def test_upload(name: str, uploads: dict[str, Upload], interop_log: InteropLog) -> None:
    up = uploads[name]
    before, after, after_again = up.sizes
    out = up.created
    assert after == before + 1
    assert out.index == before  # the new leaf's index is the old tree size
    assert out.base_url == interop_log.url
    # The printed ID is the server's: tree ID and the leaf hash of the logged body.
    key, entry, body = server_entry(interop_log.url, out.entry_id)
    assert key == out.entry_id
    assert out.entry_id == f"{_tree_id(interop_log):016x}" + leaf_hash(body).hex()
    assert entry["logIndex"] == out.index
    logged = json.loads(body)
    assert (logged["kind"], logged["apiVersion"]) == (up.kind.kind, up.kind.api_version)
    # The same upload again: the 409 path, the existing entry, the log unchanged.
    assert up.again.returncode == 0, up.again.stderr
    again = parse_upload(up.again.stdout)
    assert again is not None and not again.created, up.again.stdout
    assert (again.base_url, again.entry_id) == (interop_log.url, out.entry_id)
    assert after_again == after


def test_uploads_are_in_order(uploads: dict[str, Upload]) -> None:
    """One leaf per upload, nothing else: indexes 0..n-1 in upload order."""
    assert [uploads[n].index for n in KIND_NAMES] == list(range(len(KINDS)))


# ---------------------------------------------------------------------------------------
# get


def _check_get(done: subprocess.CompletedProcess[str], up: Upload, interop_log: InteropLog,
               log_key_pem: str, material: Material) -> None:
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["LogIndex"] == up.index
    assert got["UUID"] == up.entry_id
    assert got["LogID"] == _log_id(log_key_pem)
    assert up.window[0] <= got["IntegratedTime"] <= up.window[1]
    _, _, body = server_entry(interop_log.url, up.entry_id)
    assert got["Body"] == {up.kind.wrapper: json.loads(body)["spec"]}
    # intoto entries keep the DSSE payload as the attestation; the others have none.
    assert got["Attestation"] == (material.statement if up.kind.kind == "intoto" else "")


@pytest.mark.parametrize("name", KIND_NAMES)
def test_get_by_log_index(name: str, cli: RekorCli, uploads: dict[str, Upload],
                          interop_log: InteropLog, log_key_pem: str, material: Material) -> None:
    up = uploads[name]
    done = cli.run("get", "--log-index", str(up.index), "--format", "json")
    _check_get(done, up, interop_log, log_key_pem, material)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_get_by_uuid(name: str, cli: RekorCli, uploads: dict[str, Upload],
                     interop_log: InteropLog, log_key_pem: str, material: Material) -> None:
    up = uploads[name]
    done = cli.run("get", "--uuid", up.entry_id, "--format", "json")
    _check_get(done, up, interop_log, log_key_pem, material)


def test_get_by_bare_uuid_prints_the_entry_id(cli: RekorCli, uploads: dict[str, Upload]) -> None:
    """The 64-hex leaf hash alone finds the entry; the answer names its 80-hex ID.
    (The default text output this time.)"""
    up = uploads["rekord-pgp"]
    done = cli.run("get", "--uuid", up.entry_id[16:])
    assert done.returncode == 0, done.stderr
    assert _field(done.stdout, "UUID") == up.entry_id
    assert _field(done.stdout, "Index") == str(up.index)


def test_get_missing_entries(cli: RekorCli, uploads: dict[str, Upload], interop_log: InteropLog) -> None:
    size = interop_log.tree_size()
    done = cli.run("get", "--log-index", str(size + 5))
    assert done.returncode == 1
    assert "[GET /api/v1/log/entries][404]" in done.stderr
    missing = uploads["dsse"].entry_id[:-1] + ("0" if uploads["dsse"].entry_id[-1] != "0" else "1")
    done = cli.run("get", "--uuid", missing)
    assert done.returncode == 1
    assert "[GET /api/v1/log/entries/{entryUUID}][404]" in done.stderr


# ---------------------------------------------------------------------------------------
# verify


def _check_verify(done: subprocess.CompletedProcess[str], up: Upload, interop_log: InteropLog) -> None:
    assert done.returncode == 0, done.stderr
    info = interop_log.log_info()
    assert _field(done.stdout, "Entry Hash") == up.entry_id[16:]
    assert _field(done.stdout, "Entry Index in Current Tree") == str(up.index)
    assert _field(done.stdout, "Current Tree Size") == str(info["treeSize"])
    computed = _field(done.stdout, "Computed Root Hash")
    assert computed == _field(done.stdout, "Expected Root Hash") == info["rootHash"]
    checkpoint = done.stdout.split("Checkpoint:\n", 1)[1]
    assert checkpoint.startswith(f"{interop_log.url.removeprefix('http://')} - {info['treeID']}\n"
                                 f"{info['treeSize']}\n")


@pytest.mark.parametrize("name", KIND_NAMES)
def test_verify_by_artifact(name: str, cli: RekorCli, uploads: dict[str, Upload],
                            material: Material, interop_log: InteropLog) -> None:
    """rekor-cli rebuilds the entry from the same inputs: the logged body must be the
    canonical body Go's Rekor types make of them, byte for byte."""
    up = uploads[name]
    args = _resolve(up.kind.verify or up.kind.upload, material)
    _check_verify(cli.run("verify", *args, cwd=material.work), up, interop_log)


@pytest.mark.parametrize("name", KIND_NAMES)
def test_verify_by_uuid_and_by_log_index(name: str, cli: RekorCli, uploads: dict[str, Upload],
                                         interop_log: InteropLog) -> None:
    up = uploads[name]
    _check_verify(cli.run("verify", "--uuid", up.entry_id), up, interop_log)
    _check_verify(cli.run("verify", "--log-index", str(up.index)), up, interop_log)


def test_verify_of_an_entry_not_in_the_log(cli: RekorCli, uploads: dict[str, Upload],
                                           material: Material, interop_log: InteropLog) -> None:
    """A good signature over another artifact: nothing found, nothing logged."""
    other = material.work / "never-uploaded.txt"
    other.write_bytes(b"not in the log\n")
    _openssl("dgst", "-sha512", "-sign", material.work / "p521.key", "-out", material.work / "other.sig", other)
    size = interop_log.tree_size()
    done = cli.run("verify", "--artifact-hash", "sha512:" + hashlib.sha512(other.read_bytes()).hexdigest(),
                   "--signature", "other.sig", "--public-key", material["p521.pub"], cwd=material.work)
    assert done.returncode == 1
    assert "entry in log cannot be located" in done.stderr
    assert interop_log.tree_size() == size


def test_verify_intoto_without_version_is_refused_as_rekor_does(
        cli: RekorCli, uploads: dict[str, Upload], material: Material) -> None:
    """rekor-cli's own bug (see the module docstring): the entry it sends has no `kind`.
    Rekor's SearchLogQuery decoding answers 422 "kind in body is required"; so do we."""
    assert uploads["intoto"].created  # the entry is in the log; the query is what fails
    done = cli.run("verify", "--type", "intoto", "--artifact", material["intoto.json"],
                   "--public-key", material["x509.pub"])
    assert done.returncode == 1
    assert "[POST /api/v1/log/entries/retrieve][422]" in done.stderr
    assert '"message":"kind in body is required"' in done.stderr


# ---------------------------------------------------------------------------------------
# search


SEARCHES = {
    # The artifact's digest: every signature over it, and the attestations naming it.
    "sha": (("--sha", "@sha256"), set(KIND_NAMES) - {"hashedrekord-sha512"}),
    "sha-prefixed": (("--sha", "@sha256-prefixed"), set(KIND_NAMES) - {"hashedrekord-sha512"}),
    "artifact": (("--artifact", "@artifact"), set(KIND_NAMES) - {"hashedrekord-sha512"}),
    "sha512": (("--sha", "@sha512"), {"hashedrekord-sha512"}),
    # A key finds its entries of every kind (rekor-py; Rekor finds only the first two).
    "x509-key": (("--pki-format", "x509", "--public-key", "x509.pub"),
                 {"hashedrekord-key", "rekord-x509", "intoto", "intoto-0.0.1", "dsse"}),
    "x509-cert": (("--pki-format", "x509", "--public-key", "x509.crt"), {"hashedrekord-cert"}),
    "rsa-key": (("--pki-format", "x509", "--public-key", "rsa.pub"), {"dsse"}),
    "pgp": (("--pki-format", "pgp", "--public-key", "pgp.pub"), {"rekord-pgp"}),
    "ssh": (("--pki-format", "ssh", "--public-key", "ssh.pub"), {"rekord-ssh"}),
    "minisign": (("--pki-format", "minisign", "--public-key", "minisign.pub"), {"rekord-minisign"}),
    "email-x509": (("--email", ALICE), {"hashedrekord-cert"}),
    "email-pgp": (("--email", BOB), {"rekord-pgp"}),
    "email-mixed-case": (("--email", BOB.upper()), {"rekord-pgp"}),
    "subject-uri": (("--subject", ALICE_URI), {"hashedrekord-cert"}),
    "and": (("--email", ALICE, "--sha", "@sha256", "--operator", "and"), {"hashedrekord-cert"}),
    "or": (("--email", BOB, "--sha", "@sha512", "--operator", "or"), {"rekord-pgp", "hashedrekord-sha512"}),
}


@pytest.mark.parametrize("name", list(SEARCHES))
def test_search(name: str, cli: RekorCli, uploads: dict[str, Upload], material: Material) -> None:
    args, expected = SEARCHES[name]
    special = {"@sha256-prefixed": "sha256:" + material.artifact_sha256,
               "@sha512": hashlib.sha512(material.artifact.read_bytes()).hexdigest()}
    resolved = [special.get(a) or a for a in _resolve(args, material)]
    done = cli.run("search", *resolved, cwd=material.work)
    assert done.returncode == 0, done.stderr
    assert "Found matching entries (listed by UUID):" in done.stderr
    found = done.stdout.split()
    assert len(found) == len(set(found)), found
    assert set(found) == {uploads[n].entry_id for n in expected}


def test_search_without_hits(cli: RekorCli, uploads: dict[str, Upload]) -> None:
    done = cli.run("search", "--sha", hashlib.sha256(b"nothing logged this").hexdigest())
    assert done.returncode == 1
    assert "no matching entries found" in done.stderr
    assert done.stdout == ""


# ---------------------------------------------------------------------------------------
# loginfo (consistency with the stored tree head) and logproof


def _upload_fresh(cli: RekorCli, material: Material, label: str) -> subprocess.CompletedProcess[str]:
    """A new hashedrekord entry of its own (a new artifact, the P-521 key)."""
    artifact = material.work / f"{label}.txt"
    artifact.write_bytes(f"{label} {time.time_ns()}\n".encode())
    _openssl("dgst", "-sha512", "-sign", material.work / "p521.key", "-out", material.work / f"{label}.sig", artifact)
    return cli.run("upload", "--artifact-hash", "sha512:" + hashlib.sha512(artifact.read_bytes()).hexdigest(),
                   "--signature", f"{label}.sig", "--public-key", material["p521.pub"], cwd=material.work)


def test_loginfo_checks_consistency_with_its_stored_tree_head(
        cli: RekorCli, uploads: dict[str, Upload], material: Material, interop_log: InteropLog,
        tmp_path: Path) -> None:
    own = cli.with_key(cli.log_key_pem, home=tmp_path)  # a state file of its own
    tree_id = str(_tree_id(interop_log))

    first = own.run("loginfo")
    assert first.returncode == 0, first.stderr
    assert "No previous log state stored" in first.stderr
    size1 = interop_log.tree_size()
    assert _field(first.stdout, "Active Tree Size") == str(size1)
    stored = own.state()
    assert stored[tree_id].split("\n")[1] == str(size1)
    assert stored[interop_log.url] == stored[tree_id]

    # A stored tree head whose root is not the log's: the next consistency check must fail.
    genuine = (tmp_path / ".rekor" / "state.json").read_text()
    lines = stored[tree_id].split("\n")
    lines[2] = base64.b64encode(b"\x11" * 32).decode()
    tampered = {k: "\n".join(lines) for k in stored}
    (tmp_path / ".rekor" / "state.json").write_text(json.dumps(tampered))

    added = _upload_fresh(own, material, "between-loginfos")
    assert added.returncode == 0, added.stderr
    assert interop_log.tree_size() == size1 + 1

    refused = own.run("loginfo")
    assert refused.returncode == 1
    assert "does not match expected root" in refused.stderr
    assert own.state() == tampered  # nothing stored after a failed check

    # The genuine tree head: consistent with the grown log, and replaced by the new one.
    (tmp_path / ".rekor" / "state.json").write_text(genuine)
    second = own.run("loginfo")
    assert second.returncode == 0, second.stderr
    assert "No previous log state stored" not in second.stderr
    info = interop_log.log_info()
    assert _field(second.stdout, "Active Tree Size") == str(size1 + 1) == str(info["treeSize"])
    assert _field(second.stdout, "Root Hash") == info["rootHash"]
    assert own.state()[tree_id].split("\n")[1:3] == [
        str(size1 + 1), base64.b64encode(bytes.fromhex(str(info["rootHash"]))).decode()]


def test_logproof(cli: RekorCli, uploads: dict[str, Upload], interop_log: InteropLog) -> None:
    size = interop_log.tree_size()
    leaves = _leaves(interop_log, size)
    root = mth(leaves)
    assert root.hex() == interop_log.log_info()["rootHash"]
    for first, last in ((1, size), (3, size), (size - 1, size), (3, size - 2)):
        done = cli.run("logproof", "--first-size", str(first), "--last-size", str(last))
        assert done.returncode == 0, done.stderr
        # Rekor prints the current root whatever --last-size is (docs: the proof's rootHash).
        assert _field(done.stdout, "Current Root Hash") == root.hex()
        hashes = _field(done.stdout, "Hashes").strip("[]")
        printed = hashes.split(",") if hashes else []
        assert printed == [h.hex() for h in proof(first, leaves[:last])], (first, last)


def test_logproof_beyond_the_tree(cli: RekorCli, uploads: dict[str, Upload], interop_log: InteropLog) -> None:
    size = interop_log.tree_size()
    done = cli.run("logproof", "--first-size", "1", "--last-size", str(size + 1))
    assert done.returncode == 1
    assert "[GET /api/v1/log/proof][400]" in done.stderr
    assert f"the tree size requested({size + 1}) was greater than what is currently observable({size})" in done.stderr


# ---------------------------------------------------------------------------------------
# trust: the pinned key is the one used


@pytest.fixture(scope="module")
def wrong_key_pem(material: Material) -> str:
    """A fresh P-256 key the log never signed with."""
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", material.work / "wrong.key")
    _openssl("pkey", "-in", material.work / "wrong.key", "-pubout", "-out", material.work / "wrong.pub")
    return (material.work / "wrong.pub").read_text()


def test_a_wrong_pinned_key_fails_every_check(cli: RekorCli, uploads: dict[str, Upload], material: Material,
                                              interop_log: InteropLog, wrong_key_pem: str,
                                              tmp_path: Path) -> None:
    wrong = cli.with_key(wrong_key_pem, home=tmp_path)
    up = uploads["rekord-ssh"]

    # upload: the server logs the entry; rekor-cli refuses the SET it got back.
    size = interop_log.tree_size()
    done = _upload_fresh(wrong, material, "wrong-key-upload")
    assert done.returncode == 1
    assert "unable to verify entry was added to log" in done.stderr
    assert "invalid signature" in done.stderr
    assert interop_log.tree_size() == size + 1

    for args, message in (
        (("get", "--log-index", str(up.index)), "unable to verify entry was added to log: "),
        (("get", "--uuid", up.entry_id), "unable to verify entry was added to log: "),
        (("verify", "--uuid", up.entry_id), "validating entry: "),
        (("loginfo",), "signature on tree head did not verify"),
    ):
        done = wrong.run(*args)
        assert done.returncode == 1, (args, done.stdout)
        assert message in done.stderr, (args, done.stderr)
        assert "did not verify" in done.stderr or "invalid signature" in done.stderr, (args, done.stderr)
        # The same command with the right key passes.
        right = cli.with_key(cli.log_key_pem, home=tmp_path / "right").run(*args)
        assert right.returncode == 0, (args, right.stderr)
    assert wrong.state() == {}  # a tree head that did not verify is not stored


def test_without_a_pinned_key_it_fetches_the_servers(cli: RekorCli, uploads: dict[str, Upload],
                                                     tmp_path: Path) -> None:
    """rekor-cli's default: `GET /api/v1/log/publicKey?treeID=<the entry's tree>`."""
    unpinned = cli.with_key(None, home=tmp_path)
    up = uploads["rekord-minisign"]
    for args in (("get", "--uuid", up.entry_id), ("verify", "--log-index", str(up.index)), ("loginfo",)):
        done = unpinned.run(*args)
        assert done.returncode == 0, (args, done.stderr)


def test_key_pinned_in_the_config_file(cli: RekorCli, uploads: dict[str, Upload], wrong_key_pem: str,
                                       log_key_pem: str, tmp_path: Path) -> None:
    """`rekor_server_public_key` in ~/.rekor.yaml, no environment variable: the right key
    verifies, a wrong one fails."""
    def with_config(pem: str, home: Path) -> subprocess.CompletedProcess[str]:
        home.mkdir()
        indented = "".join(f"  {line}\n" for line in pem.splitlines())
        (home / ".rekor.yaml").write_text(f"rekor_server_public_key: |\n{indented}")
        return cli.with_key(None, home=home).run("get", "--log-index", str(uploads["dsse"].index))

    good = with_config(log_key_pem, tmp_path / "good")
    assert good.returncode == 0, good.stderr
    assert "Using config file" in good.stderr
    bad = with_config(wrong_key_pem, tmp_path / "bad")
    assert bad.returncode == 1
    assert "unable to verify entry was added to log" in bad.stderr

