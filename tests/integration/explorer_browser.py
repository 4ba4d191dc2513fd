"""Debian's Chromium, driven by Playwright, for the explorer's tests.

Playwright cannot download its own browser here, so it drives /usr/bin/chromium
(the `chromium` package) with the flags a machine without outside network needs.
`host-resolver-rules` maps `explorer.test` to loopback: a page opened there is not
a secure context (plain HTTP, not localhost), so WebCrypto is absent, as it is for
anyone who opens an explorer over HTTP on another host.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
INSECURE_HOST = "explorer.test"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1"]
ROOT = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    """Where screenshots go: $REKOR_PY_TEST_ARTIFACTS, else test-artifacts/ in the checkout."""
    d = Path(os.environ.get("REKOR_PY_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "explorer"
    d.mkdir(parents=True, exist_ok=True)
    return d


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def open_view(page: Page, url: str, timeout_ms: float = 20_000) -> float:
    """Go to `url` and wait until the explorer's view is done (it sets data-ready to the
    milliseconds it took); returns that."""
    await page.goto(url)
    await page.wait_for_selector("#main[data-ready]", timeout=timeout_ms)
    return float(await page.get_attribute("#main", "data-ready") or "nan")


async def show(page: Page, hash_route: str, timeout_ms: float = 20_000) -> None:
    """Route the open page to `#...` and wait for the view."""
    await page.evaluate("h => { document.getElementById('main').removeAttribute('data-ready'); location.hash = h }",
                        hash_route)
    await page.wait_for_selector("#main[data-ready]", timeout=timeout_ms)


async def verdict(page: Page) -> str:
    """The status of the page's first verdict: ok, warn or fail."""
    return str(await page.get_attribute(".verdict", "data-status"))


async def checks(page: Page) -> str:
    return await page.inner_text(".verdict")
