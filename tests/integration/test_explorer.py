"""The web explorer in a real browser (Debian's Chromium, driven by Playwright) against
a live server holding entries of every kind: each page loads, search finds what was
uploaded, the checks go green, and tampered or forked answers go red.  Screenshots of
each page are kept (explorer_browser.artifacts_dir)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.async_api import Browser, BrowserContext, Page, Route

from rekor_py.explorer import assets_built
from tests.integration.explorer_browser import (
    INSECURE_HOST,
    ROOT,
    artifacts_dir,
    checks,
    chromium,
    open_view,
    show,
    verdict,
)
from tests.integration.logserver import RunningLog, log_settings, post_entry, start_log
from tests.integration.test_entry_kinds import ALL_KINDS, BUILDERS, Signed, hashedrekord
from tests.integration.test_rekor_v2 import v2_request
from tests.tools.fulcio import FulcioPKI

FULCIO_EMAIL = "explorer-user@example.com"


@dataclass
class Explorer:
    log: RunningLog
    entries: list[Signed]
    indexes: dict[str, int]  # entry name -> log index
    browser: Browser
    v2_size: int

    @property
    def url(self) -> str:
        return self.log.url + "/"

    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(
            (self.log.settings.data_dir / "signing-key.pem").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


def fulcio_entry(workdir: Path) -> Signed:
    pki = FulcioPKI.create()
    leaf = pki.issue(FULCIO_EMAIL)
    artifact = b"an artifact signed keylessly"
    return hashedrekord("fulcio hashedrekord", leaf.sign(artifact), leaf.cert_pem, artifact, FULCIO_EMAIL)


@pytest.fixture(scope="module")
async def explorer(database_url_module: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[Explorer]:
    # The built page ships inside the package (setup.py runs npm); the tests need it built.
    assert assets_built(), "rekor_py/explorer/static is missing: reinstall with npm on the PATH"
    log = await start_log(log_settings(database_url_module, tmp_path_factory.mktemp("explorer"),
                                       insertable_kinds=ALL_KINDS))
    workdir = tmp_path_factory.mktemp("signers")
    entries = [e for build in BUILDERS for e in build(workdir)] + [fulcio_entry(workdir)]
    indexes: dict[str, int] = {}
    async with aiohttp.ClientSession() as s:
        for entry in entries:
            status, body, _ = await post_entry(s, log.url, entry.proposed)
            assert status == 201, (entry.name, body)
            entry.entry_id = next(iter(body))
            indexes[entry.name] = body[entry.entry_id]["logIndex"]
        for i in range(2):
            async with s.post(f"{log.url}/api/v2/log/entries", json=v2_request(b"v2 artifact %d" % i)) as r:
                assert r.status == 201, await r.text()
    async with chromium() as browser:
        yield Explorer(log, entries, indexes, browser, 2)
    await log.stop()


@pytest.fixture
async def page(explorer: Explorer) -> AsyncIterator[Page]:
    """A fresh profile (empty local storage) per test; page errors fail the test."""
    context: BrowserContext = await explorer.browser.new_context(viewport={"width": 1200, "height": 900})
    p = await context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    await context.close()
    assert errors == []


async def pinned(page: Page, url: str) -> None:
    """Two visits of the log page: the first pins the keys and remembers the heads, so
    that later views are green rather than amber."""
    await open_view(page, url)
    await page.reload()
    await page.wait_for_selector("#main[data-ready]")


async def screenshot(page: Page, name: str) -> None:
    await page.screenshot(path=str(artifacts_dir() / f"{name}.png"), full_page=True)


async def test_home_pins_on_first_visit_then_verifies(explorer: Explorer, page: Page) -> None:
    await open_view(page, explorer.url)
    assert await verdict(page) == "warn"
    text = await checks(page)
    assert "first visit" in text and "signed by the log's key (WebCrypto)" in text
    assert await page.inner_text("[data-testid=tree-size]") == str(len(explorer.entries))
    await page.reload()
    await page.wait_for_selector("#main[data-ready]")
    assert await verdict(page) == "ok", await checks(page)
    assert "unchanged at size" in await checks(page)
    # The v2 log's checkpoint is verified too (Ed25519).
    v2 = page.locator("#v2 .verdict")
    assert await v2.get_attribute("data-status") == "ok", await v2.inner_text()
    await screenshot(page, "home")


async def test_every_entry_verifies_and_shows_its_kind(explorer: Explorer, page: Page) -> None:
    await open_view(page, explorer.url)
    seen_kinds = set()
    for e in explorer.entries:
        index = explorer.indexes[e.name]
        await show(page, f"#/entry/{index}")
        assert await verdict(page) == "ok", (e.name, await checks(page))
        body = await page.inner_text("#main")
        assert f"Entry {index}" in body and e.entry_id in body
        for what in ("Leaf hash", "Signed entry timestamp", "Inclusion proof", "Proof's checkpoint"):
            assert what in await checks(page)
        seen_kinds.add(e.proposed["kind"])
        # Found by its UUID as well.
        await show(page, f"#/entry/{e.entry_id}")
        assert await verdict(page) == "ok"
    assert seen_kinds == set(ALL_KINDS)


async def test_certificate_and_keys_are_decoded(explorer: Explorer, page: Page) -> None:
    await open_view(page, explorer.url)
    await show(page, f"#/entry/{explorer.indexes['fulcio hashedrekord']}")
    text = await page.inner_text("#main")
    assert f"email:{FULCIO_EMAIL}" in text
    assert "Issuer" in text and "https://" in text  # Fulcio's OIDC issuer extension
    assert "ECDSA P-256" in text
    await screenshot(page, "entry-fulcio")
    for e in explorer.entries:
        fmt, key = e.key
        await show(page, f"#/entry/{explorer.indexes[e.name]}")
        text = await page.inner_text(".keys")
        if fmt == "pgp":
            assert "PGP public key" in text
            assert _pgp_fingerprint(key) in text.replace(" ", "")
        elif fmt == "ssh":
            assert "SSH public key" in text and _ssh_fingerprint(key) in text
        elif fmt == "minisign":
            assert "minisign public key" in text and _minisign_id(key) in text
        if e.attestation:
            assert "Attestation" in await page.inner_text("#main")


def _ssh_fingerprint(key: bytes) -> str:
    blob = base64.b64decode(key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _minisign_id(key: bytes) -> str:
    line = [ln for ln in key.decode().splitlines() if ln and not ln.startswith("untrusted")][0]
    return base64.b64decode(line)[2:10][::-1].hex().upper()


def _pgp_fingerprint(armoured: bytes) -> str:
    import subprocess
    out = subprocess.run(["gpg", "--with-colons", "--import-options", "show-only", "--import"],
                         input=armoured, capture_output=True, check=True).stdout.decode()
    return next(ln.split(":")[9] for ln in out.splitlines() if ln.startswith("fpr:"))


async def test_search_finds_uploads(explorer: Explorer, page: Page, tmp_path: Path) -> None:
    await pinned(page, explorer.url)
    await show(page, "#/search")
    for e in explorer.entries:
        await page.fill("#hash", e.artifact_hash)
        await page.click("#by-hash button")
        await page.wait_for_selector(f"#results a[href='#/entry/{e.entry_id}']")
    await page.fill("#email", FULCIO_EMAIL)
    await page.click("#by-email button")
    fulcio = next(e for e in explorer.entries if e.email == FULCIO_EMAIL)
    await page.wait_for_selector(f"#results a[href='#/entry/{fulcio.entry_id}']")
    rows = page.locator("#results tbody tr")
    assert await rows.count() >= 1
    assert all(s == "ok" for s in await rows.evaluate_all("rs => rs.map(r => r.dataset.status)"))
    # A public key file, uploaded.
    ssh = next(e for e in explorer.entries if e.key[0] == "ssh")
    key_file = tmp_path / "key.pub"
    key_file.write_bytes(ssh.key[1])
    await page.set_input_files("#key-file", str(key_file))
    await page.select_option("#key-format", "ssh")
    await page.click("#by-key button")
    await page.wait_for_selector(f"#results a[href='#/entry/{ssh.entry_id}']")
    statuses = await page.locator("#results tbody tr").evaluate_all("rs => rs.map(r => r.dataset.status)")
    assert statuses == ["ok"] * len(statuses), await page.inner_text("#results")
    await screenshot(page, "search")


async def test_file_is_hashed_in_the_browser(explorer: Explorer, page: Page, tmp_path: Path) -> None:
    artifact = b"an artifact signed keylessly"  # what fulcio_entry signed
    f = tmp_path / "artifact.bin"
    f.write_bytes(artifact)
    await open_view(page, explorer.url + "#/search")
    posted: list[Any] = []
    page.on("request", lambda r: posted.append(r.post_data) if r.method == "POST" else None)
    await page.set_input_files("#artifact", str(f))
    digest = hashlib.sha256(artifact).hexdigest()
    await page.wait_for_selector(f"#artifact-hash:has-text('{digest}')")
    fulcio = next(e for e in explorer.entries if e.email == FULCIO_EMAIL)
    await page.wait_for_selector(f"#results a[href='#/entry/{fulcio.entry_id}']")
    # Only the hash left the browser.
    assert not any(p and "keylessly" in p for p in posted)
    assert any(p and digest in p for p in posted)


async def test_latest_entries_page(explorer: Explorer, page: Page) -> None:
    await open_view(page, explorer.url + "#/latest")
    # A first visit: every row carries the log's note (keys pinned just now).
    statuses = await page.locator("table.entries tbody tr").evaluate_all("rs => rs.map(r => r.dataset.status)")
    assert set(statuses) == {"warn"}, statuses
    await page.reload()
    await page.wait_for_selector("#main[data-ready]")
    rows = page.locator("table.entries tbody tr")
    assert await rows.count() == min(20, len(explorer.entries))
    statuses = await rows.evaluate_all("rs => rs.map(r => r.dataset.status)")
    assert statuses == ["ok"] * len(statuses)
    first = await rows.first.locator("td").first.inner_text()
    assert first == str(len(explorer.entries) - 1)
    await screenshot(page, "latest")


async def _tamper_entry(route: Route, change: Any) -> None:
    # Playwright fetches from its own process, which does not share the browser's
    # host mapping for the insecure-context test's host name.
    response = await route.fetch(url=route.request.url.replace(INSECURE_HOST, "127.0.0.1"))
    body = await response.json()
    entry = next(iter(body.values()))
    change(entry)
    await route.fulfill(response=response, body=json.dumps(body))


def _flip_hex(h: str) -> str:
    return ("0" if h[0] != "0" else "1") + h[1:]


async def test_tampered_proof_goes_red(explorer: Explorer, page: Page) -> None:
    index = explorer.indexes["fulcio hashedrekord"]
    await open_view(page, explorer.url + f"#/entry/{index}")
    assert await verdict(page) in ("ok", "warn")

    def change(entry: dict[str, Any]) -> None:
        proof = entry["verification"]["inclusionProof"]
        proof["hashes"][0] = _flip_hex(proof["hashes"][0])
    await page.route("**/api/v1/log/entries?logIndex=*", lambda r: _tamper_entry(r, change))
    await show(page, f"#/entry/{index - 1}")
    await show(page, f"#/entry/{index}")
    assert await verdict(page) == "fail"
    failed = await page.inner_text(".checks li[data-status=fail]")
    assert "Inclusion proof" in failed and "another root" in failed
    await screenshot(page, "entry-tampered-proof")


async def test_tampered_set_and_body_go_red(explorer: Explorer, page: Page) -> None:
    index = explorer.indexes["fulcio hashedrekord"]
    await open_view(page, explorer.url)

    def bad_time(entry: dict[str, Any]) -> None:
        entry["integratedTime"] += 1  # the SET no longer covers what is shown
    await page.route("**/api/v1/log/entries?logIndex=*", lambda r: _tamper_entry(r, bad_time))
    await show(page, f"#/entry/{index}")
    assert await verdict(page) == "fail"
    assert "Signed entry timestamp" in await page.inner_text(".checks li[data-status=fail]")
    await page.unroute("**/api/v1/log/entries?logIndex=*")

    other = next(e for e in explorer.entries if e.name != "fulcio hashedrekord")

    def swapped_body(entry: dict[str, Any]) -> None:
        entry["body"] = base64.b64encode(json.dumps(other.proposed).encode()).decode()
    await page.route("**/api/v1/log/entries?logIndex=*", lambda r: _tamper_entry(r, swapped_body))
    await show(page, f"#/entry/{index - 1}")
    await show(page, f"#/entry/{index}")
    assert await verdict(page) == "fail"
    assert "Leaf hash" in await page.inner_text("#main .checks")


def _signed_head(explorer: Explorer, tree_id: str, size: int, root: bytes) -> str:
    """A tree head in Rekor's note format, really signed with the log's key: what a log
    that forks its history would serve."""
    return _rekor_note(explorer.signing_key(), f"127.0.0.1:{explorer.log.settings.port}",
                       tree_id, size, root)


def _rekor_note(key: ec.EllipticCurvePrivateKey, name: str, tree_id: str, size: int,
                root: bytes) -> str:
    text = f"{name} - {tree_id}\n{size}\n{base64.b64encode(root).decode()}\n"
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    sig = key.sign(text.encode(), ec.ECDSA(hashes.SHA256()))
    line = base64.b64encode(hashlib.sha256(spki).digest()[:4] + sig).decode()
    return f"{text}\n\u2014 {name} {line}\n"


async def test_forked_checkpoint_goes_red(explorer: Explorer, page: Page) -> None:
    await open_view(page, explorer.url)
    await page.reload()
    await page.wait_for_selector("#main[data-ready]")
    assert await verdict(page) == "ok"
    info = json.loads(await (await page.request.get(explorer.log.url + "/api/v1/log")).text())

    async def forged(route: Route, size: int) -> None:
        root = hashlib.sha256(b"another history").digest()
        head = {**info, "treeSize": size, "rootHash": root.hex(),
                "signedTreeHead": _signed_head(explorer, info["treeID"], size, root)}
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(head))

    # The same size with another root, validly signed: a split view.
    await page.route("**/api/v1/log", lambda r: forged(r, info["treeSize"]))
    await page.reload()
    await page.wait_for_selector("#main[data-ready]")
    assert await verdict(page) == "fail"
    failed = await page.inner_text(".checks li[data-status=fail]")
    assert "Consistency with your last visit" in failed and "fork" in failed
    # The signature itself was good: the key check passed and the head verified.
    assert "signed by the log's key" in await checks(page)
    await screenshot(page, "home-forked")
    await page.unroute("**/api/v1/log")

    # A larger forked head: the log's real consistency proof does not lead to it.
    async with aiohttp.ClientSession() as s:
        status, _, _ = await post_entry(s, explorer.log.url, hashedrekord(
            "one more", *_signature(b"one more entry")).proposed)
        assert status == 201
    await page.route("**/api/v1/log", lambda r: forged(r, info["treeSize"] + 1))
    await page.reload()
    await page.wait_for_selector("#main[data-ready]")
    assert await verdict(page) == "fail"
    assert "Consistency" in await page.inner_text(".checks li[data-status=fail]")
    # Without the forgery the same browser is green again: its memory was not overwritten.
    await page.unroute("**/api/v1/log")
    await page.reload()
    await page.wait_for_selector("#main[data-ready]")
    assert await verdict(page) == "ok", await checks(page)


async def test_unpinned_key_goes_red(explorer: Explorer, page: Page) -> None:
    await open_view(page, explorer.url)
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    await page.route("**/api/v1/log/publicKey*", lambda r: r.fulfill(status=200, body=other))
    await page.reload()
    await page.wait_for_selector("#main[data-ready]")
    assert await verdict(page) == "fail"
    assert "not pinned" in await page.inner_text(".checks li[data-status=fail]")


async def test_insecure_context_verifies_with_noble(explorer: Explorer, page: Page) -> None:
    """Over plain HTTP to a host that is not localhost the browser withholds WebCrypto;
    the page verifies with the noble libraries instead, and says so."""
    url = f"http://{INSECURE_HOST}:{explorer.log.settings.port}/"
    await open_view(page, url)
    assert await page.evaluate("isSecureContext") is False
    assert await page.evaluate("typeof crypto.subtle") == "undefined"
    await page.reload()
    await page.wait_for_selector("#main[data-ready]")
    assert await verdict(page) == "ok", await checks(page)
    assert "(noble)" in await checks(page)
    index = explorer.indexes["fulcio hashedrekord"]
    await show(page, f"#/entry/{index}")
    assert await verdict(page) == "ok", await checks(page)

    def change(entry: dict[str, Any]) -> None:
        entry["verification"]["signedEntryTimestamp"] = base64.b64encode(
            explorer.signing_key().sign(b"something else", ec.ECDSA(hashes.SHA256()))).decode()
    await page.route("**/api/v1/log/entries?logIndex=*", lambda r: _tamper_entry(r, change))
    await show(page, f"#/entry/{index - 1}")
    await show(page, f"#/entry/{index}")
    assert await verdict(page) == "fail"
    assert "Signed entry timestamp" in await page.inner_text(".checks li[data-status=fail]")
    await screenshot(page, "entry-insecure-context-tampered")


async def test_v2_entries_are_proven_from_tiles(explorer: Explorer, page: Page) -> None:
    await open_view(page, explorer.url + "#/v2/entry/1")
    assert await verdict(page) in ("ok", "warn"), await checks(page)
    text = await checks(page)
    assert "rebuilt from tiles" in text and "Ed25519 signature verified" in text
    assert "hashedrekord 0.0.2" in await page.inner_text("#main")
    assert "email:signer@example.com" in await page.inner_text(".keys")
    await screenshot(page, "v2-entry")

    async def bad_tile(route: Route) -> None:
        response = await route.fetch()
        data = bytearray(await response.body())
        data[0] ^= 1
        await route.fulfill(response=response, body=bytes(data))
    await page.route("**/api/v2/tile/0/**", bad_tile)
    await show(page, "#/v2/entry/0")
    await show(page, "#/v2/entry/1")
    assert await verdict(page) == "fail"
    failed = await page.locator(".checks li[data-status=fail]").all_inner_texts()
    assert any("Inclusion proof" in f for f in failed), failed


async def test_keyboard_and_labels(explorer: Explorer, page: Page) -> None:
    await open_view(page, explorer.url)
    # Every form control has a label.
    unlabelled = await page.evaluate("""() => [...document.querySelectorAll('input, select')]
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.id)""")
    assert unlabelled == []
    # A view focuses its heading (for screen readers); from there the keyboard alone
    # reaches the search box, and the skip link first in the page.
    assert await page.evaluate("document.activeElement.tagName") == "H1"
    for _ in range(12):
        await page.keyboard.press("Shift+Tab")
        if await page.evaluate("document.activeElement.id") == "q":
            break
    assert await page.evaluate("document.activeElement.id") == "q"
    await page.keyboard.type(str(explorer.indexes["fulcio hashedrekord"]))
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#main[data-ready] .verdict")
    assert await page.evaluate("location.hash") == f"#/entry/{explorer.indexes['fulcio hashedrekord']}"
    await show(page, "#/search")
    unlabelled = await page.evaluate("""() => [...document.querySelectorAll('input, select')]
        .filter(el => !el.labels || el.labels.length === 0).map(el => el.id)""")
    assert unlabelled == []


async def test_axe_finds_no_serious_accessibility_violation(explorer: Explorer) -> None:
    """axe-core's audit (contrast, names, roles, landmarks) on each page; the page's CSP
    forbids injected scripts, so this context bypasses it to load axe."""
    axe = ROOT / "explorer" / "node_modules" / "axe-core" / "axe.min.js"
    context = await explorer.browser.new_context(bypass_csp=True)
    page = await context.new_page()
    for route in ("", "#/latest", "#/search", f"#/entry/{explorer.indexes['fulcio hashedrekord']}"):
        await open_view(page, explorer.url + route)
        await page.add_script_tag(path=str(axe))
        result = await page.evaluate("async () => (await axe.run()).violations"
                                     ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
                                     ".map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' '))")
        assert result == [], (route, result)
    await context.close()


async def test_explorer_under_a_prefix(database_url: str, tmp_path: Path, page: Page) -> None:
    log = await start_log(log_settings(database_url, tmp_path, explorer_prefix="/explorer/"))
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(log.url + "/") as r:
                assert r.status == 404
            async with s.get(log.url + "/explorer", allow_redirects=False) as r:
                assert r.status == 301 and r.headers["Location"] == "/explorer/"
            status, body, _ = await post_entry(s, log.url, hashedrekord(
                "prefixed", *_signature(b"prefixed")).proposed)
            assert status == 201
        await open_view(page, log.url + "/explorer/")
        assert await verdict(page) == "warn"  # first visit: pinned
        await show(page, f"#/entry/{next(iter(body))}")
        assert await verdict(page) == "ok", await checks(page)
    finally:
        await log.stop()


async def test_explorer_can_be_turned_off(database_url: str, tmp_path: Path) -> None:
    log = await start_log(log_settings(database_url, tmp_path, explorer=False))
    try:
        async with aiohttp.ClientSession() as s, s.get(log.url + "/") as r:
            assert r.status == 404
    finally:
        await log.stop()


async def test_growth_counts_entries_before_each_mark(explorer: Explorer) -> None:
    """growth.json's binary search, checked against the entries' own stamps."""
    import time

    from rekor_py.explorer.growth import growth
    async with aiohttp.ClientSession() as s:
        for i in range(3):
            for j in range(3):
                status, _, _ = await post_entry(s, explorer.log.url, hashedrekord(
                    f"growth {i} {j}", *_signature(f"growth {i} {j}".encode())).proposed)
                assert status == 201
            await asyncio.sleep(1.1)
        async with s.get(explorer.log.url + "/api/v1/log") as r:
            size = (await r.json())["treeSize"]
        indexes = list(range(size))
        stamps = []
        for at in range(0, size, 10):
            async with s.post(explorer.log.url + "/api/v1/log/entries/retrieve",
                              json={"logIndexes": indexes[at:at + 10]}) as r:
                stamps += [next(iter(e.values()))["integratedTime"] for e in await r.json()]
    g = await growth(explorer.log.runtime.service, 6, now=time.time(), step_s=1)
    assert len(g.points) == 8 and g.points[-1][1] == size
    for mark, counted in g.points[:-1]:
        assert counted == sum(1 for t in stamps if t < mark), (mark, counted)
    # Some mark falls between the batches (the test slept a second between them).
    assert len({c for _, c in g.points}) >= 3


def _signature(artifact: bytes) -> tuple[bytes, bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.sign(artifact, ec.ECDSA(hashes.SHA256())), pem, artifact


async def test_witness_cosignatures_are_checked(database_url: str, tmp_path: Path, page: Page) -> None:
    """With a witness policy the log page checks each witness's cosignature on the C2SP
    checkpoint; a tampered cosignature goes red."""
    from tests.integration.test_witnessing import FakeWitness

    honest = FakeWitness("witness.test/honest", "honest")
    await honest.start()
    policy = tmp_path / "policy"
    policy.write_text(f"witness honest {honest.signer.verifier.vkey} {honest.url}\nquorum honest\n")
    log = await start_log(log_settings(database_url, tmp_path, witness_policy=policy,
                                       witness_interval_ms=20, rekor_v2=False))
    try:
        async with aiohttp.ClientSession() as s:
            status, _, _ = await post_entry(s, log.url, hashedrekord(
                "witnessed", *_signature(b"witnessed")).proposed)
            assert status == 201
            for _ in range(200):
                async with s.get(log.url + "/api/v1/log/checkpoint") as r:
                    if r.status == 200 and "witness.test/honest" in await r.text():
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the witness never cosigned")
        await open_view(page, log.url + "/")
        await page.reload()
        await page.wait_for_selector("#main[data-ready]")
        assert await verdict(page) == "ok", await checks(page)
        assert "Witness honest: cosigned at" in await checks(page)
        assert await page.locator("#v2").count() == 0  # no v2 log on this server

        async def tampered(route: Route) -> None:
            response = await route.fetch()
            lines = (await response.text()).split("\n")
            for i, line in enumerate(lines):
                if line.startswith("\u2014 witness.test/honest "):
                    raw = bytearray(base64.b64decode(line.split(" ")[2]))
                    raw[-1] ^= 1
                    lines[i] = f"\u2014 witness.test/honest {base64.b64encode(bytes(raw)).decode()}"
            await route.fulfill(response=response, body="\n".join(lines))
        await page.route("**/api/v1/log/checkpoint", tampered)
        await page.reload()
        await page.wait_for_selector("#main[data-ready]")
        assert await verdict(page) == "fail"
        assert "does not verify" in await page.inner_text(".checks li[data-status=fail]")
        await screenshot(page, "home-witness-tampered")
    finally:
        await log.stop()
        await honest.stop()


async def test_rotation_to_a_new_key(database_url: str, tmp_path: Path, page: Page) -> None:
    """After a rotation to a new key: the new key is not trusted until the user accepts
    it; the frozen shard's final head is consistent with what the browser saw; entries
    of both shards verify, each under its own key."""
    from tests.integration.test_shards import _rotate_with_new_key

    log = await start_log(log_settings(database_url, tmp_path))
    try:
        async with aiohttp.ClientSession() as s:
            for i in range(5):
                status, _, _ = await post_entry(s, log.url, hashedrekord(
                    f"before {i}", *_signature(f"before {i}".encode())).proposed)
                assert status == 201
            await open_view(page, log.url + "/")
            await page.reload()
            await page.wait_for_selector("#main[data-ready]")
            assert await verdict(page) == "ok", await checks(page)
            await _rotate_with_new_key(log)
            for i in range(3):
                status, _, _ = await post_entry(s, log.url, hashedrekord(
                    f"after {i}", *_signature(f"after {i}".encode())).proposed)
                assert status == 201
        await page.reload()
        await page.wait_for_selector("#main[data-ready]")
        assert await verdict(page) == "fail"
        failed = await page.locator(".checks li[data-status=fail]").all_inner_texts()
        assert len(failed) == 1 and "you have not pinned" in failed[0], failed
        assert "unchanged at size 5" in await checks(page)  # the frozen shard's final head
        await page.click("text=Trust the 1 new key(s)")
        await page.wait_for_selector("#main[data-ready]")
        assert await verdict(page) == "ok", await checks(page)
        assert await page.inner_text("[data-testid=tree-size]") == "8"
        assert await page.locator("text=frozen").count() == 1
        for index in (2, 6):
            await show(page, f"#/entry/{index}")
            assert await verdict(page) == "ok", (index, await checks(page))
        await show(page, "#/latest")
        statuses = await page.locator("table.entries tbody tr").evaluate_all(
            "rs => rs.map(r => r.dataset.status)")
        assert statuses == ["ok"] * 8
        await screenshot(page, "latest-after-rotation")

        # The frozen shard's final head, rewritten and validly signed with its own key:
        # a frozen shard must never change.
        info = json.loads(await (await page.request.get(log.url + "/api/v1/log")).text())
        frozen = info["inactiveShards"][0]
        old_key = serialization.load_pem_private_key((tmp_path / "signing-key.pem").read_bytes(), None)
        assert isinstance(old_key, ec.EllipticCurvePrivateKey)
        root = hashlib.sha256(b"a rewritten shard").digest()
        rewritten = {**frozen, "treeSize": 6, "rootHash": root.hex(), "signedTreeHead": _rekor_note(
            old_key, f"127.0.0.1:{log.settings.port}", frozen["treeID"], 6, root)}

        async def rewrite(route: Route) -> None:
            await route.fulfill(status=200, content_type="application/json",
                                body=json.dumps({**info, "inactiveShards": [rewritten]}))
        await page.route("**/api/v1/log", rewrite)
        await show(page, "#/")
        assert await verdict(page) == "fail"
        failed = await page.inner_text(".checks li[data-status=fail]")
        assert "frozen tree" in failed and "changed" in failed, failed
    finally:
        await log.stop()
