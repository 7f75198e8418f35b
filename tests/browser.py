"""A user's first look at a running platform, in a real browser (Playwright driving Chromium).

:func:`tour` opens the Dagster UI as a plant engineer would on the first day: it dismisses the
first-visit dialog, opens the asset lineage, a mart's page with its checks, and the dbt docs
site, and saves a screenshot of each under ``docs/img/`` (the README shows them). Each page is
also checked for what a user must see there, so a blank or broken page fails the test rather
than producing a pretty but empty picture.

Chromium comes from Debian (``apt-get install chromium``, ``/usr/bin/chromium``), Playwright
from PyPI; no browser is downloaded. :func:`chromium_path` says where the browser is, or None.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "docs" / "img"
VIEWPORT = {"width": 1440, "height": 900}


def chromium_path() -> str | None:
    """The Chromium binary to drive: ``FACTORY_TEST_CHROMIUM``, else Debian's ``chromium``."""
    candidate = os.environ.get("FACTORY_TEST_CHROMIUM") or "/usr/bin/chromium"
    if Path(candidate).exists():
        return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Shot:
    name: str
    path: Path
    url: str


def _dismiss_first_visit(page) -> bool:
    """Close the dialog a first visit shows (Dagster's welcome / "what's new" / telemetry
    notice), whichever it is; True if one was there."""
    dialog = page.locator('[role="dialog"]')
    try:
        dialog.first.wait_for(state="visible", timeout=8_000)
    except Exception:  # noqa: BLE001 - no dialog on this visit
        return False
    for label in ("Dismiss", "Close", "Got it", "Skip", "Done", "OK", "Continue"):
        button = dialog.get_by_role("button", name=label, exact=False)
        if button.count():
            button.first.click()
            break
    else:
        page.keyboard.press("Escape")
    dialog.first.wait_for(state="hidden", timeout=10_000)
    return True


def _settle(page, text: str, timeout: float = 60_000) -> None:
    """Wait until ``text`` is on the page and the UI has stopped loading."""
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout)
    page.wait_for_load_state("networkidle", timeout=timeout)
    page.wait_for_timeout(1_500)  # graph layout animates after the data arrives


def tour(ui_url: str, docs_url: str, out_dir: Path = SCREENSHOTS) -> list[Shot]:
    """Visit the UI and the dbt docs; return the screenshots taken (PNG files in ``out_dir``)."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    shots: list[Shot] = []
    executable = chromium_path()
    assert executable, "Chromium not found"
    with sync_playwright() as pw:
        # --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport=VIEWPORT)

            def snap(name: str) -> None:
                path = out_dir / f"{name}.png"
                page.screenshot(path=str(path))
                shots.append(Shot(name, path, page.url))

            page.goto(f"{ui_url}/", wait_until="domcontentloaded")
            _dismiss_first_visit(page)

            # The asset lineage: one graph from landing-zone ingestion to the marts.
            page.goto(f"{ui_url}/asset-groups", wait_until="domcontentloaded")
            _dismiss_first_visit(page)
            _settle(page, "Global asset lineage")
            for group in ("machine_logs", "data_quality", "operations", "logistics"):
                page.get_by_text(group, exact=True).first.wait_for(state="visible", timeout=60_000)
            snap("dagster-lineage")

            # One domain's lineage, asset by asset: the mart and everything upstream of it.
            page.goto(f"{ui_url}/assets/marts/oee_daily?view=lineage", wait_until="domcontentloaded")
            _dismiss_first_visit(page)
            _settle(page, "gateway_oee")  # an exposure: the graph reaches past the marts
            snap("dagster-mart-lineage")

            # A mart's page with its checks (dbt tests and freshness, as asset checks).
            page.goto(f"{ui_url}/assets/marts/oee_daily?view=checks", wait_until="domcontentloaded")
            _dismiss_first_visit(page)
            _settle(page, "Checks (")
            page.get_by_text("not_null", exact=False).first.wait_for(state="visible", timeout=60_000)
            snap("dagster-mart-checks")

            # The dbt docs site: the mart's documentation page.
            page.goto(f"{docs_url}/#!/model/model.factory.oee_daily", wait_until="domcontentloaded")
            _settle(page, "oee_daily")
            page.get_by_text("Columns", exact=True).first.wait_for(state="visible", timeout=60_000)
            page.get_by_text("ISO 22400", exact=False).first.wait_for(state="visible", timeout=60_000)
            snap("dbt-docs-oee-daily")
        finally:
            browser.close()
    return shots
