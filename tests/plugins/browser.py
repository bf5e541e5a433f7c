"""One headless Chromium for every test that needs a browser (a second sync Playwright in the same
process would clash with the first one's event loop).

Chromium is Debian's (/usr/bin/chromium, `apt-get install -y chromium`): Playwright's own browser
download does not work offline. Tests that ask for it are skipped, with the reason, when it is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"the browser tests drive Debian's Chromium and {CHROMIUM} is missing "
                    "(apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
