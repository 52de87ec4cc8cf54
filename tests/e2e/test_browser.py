"""End to end in a real headless browser (Debian's Chromium driven by Playwright): upload a file on
the Documents page, ask on the Ask page, see a cited answer with its highlighted source. Runs the
real API (real embedder, extractive answers) and the real Streamlit server; saves a screenshot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import Settings
from app.testing import free_port, live_api, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOT = ROOT / "bench" / "results" / "ui-answer.png"

NOTE = """# Release checklist

## Before tagging

Run the full test suite and update the changelog.
The release manager signs the tag with the team's hardware key, which is kept in the office safe.
"""

pytestmark = pytest.mark.browser


@pytest.fixture
def ui_url(tmp_path: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: install Debian's `chromium` package (make install does it)")
    settings = Settings(data_dir=tmp_path / "data", generator="extractive", min_retrieval_similarity=0.0)
    with live_api(settings) as api:
        port = free_port()
        env = {**os.environ, "CITEWISE_API_URL": api, "PYTHONPATH": str(ROOT)}
        command = [
            sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "ui" / "Chat.py"),
            "--server.port", str(port), "--server.headless", "true", "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal",
        ]  # fmt: skip
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            if not wait_for_http(f"{url}/_stcore/health", lambda: process.poll() is None, 60, 0.2):
                process.terminate()
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"the Streamlit server did not start:\n{output[-2000:]}")
            yield url
        finally:
            process.terminate()
            process.wait(15)


def test_upload_ask_and_read_a_cited_answer(ui_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=90_000)  # the first ingest loads the embedding model
    note = tmp_path / "release.md"
    note.write_text(NOTE)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)

        page.goto(f"{ui_url}/documents")
        expect(page.get_by_role("heading", name="Documents")).to_be_visible()
        page.locator("input[type=file]").set_input_files(str(note))
        page.get_by_role("button", name="Ingest").click()
        expect(page.get_by_text("Ingested 1 new")).to_be_visible()
        expect(page.get_by_text("release.md").first).to_be_visible()

        page.goto(ui_url)
        box = page.get_by_placeholder("Ask a question about your documents")
        box.fill("Where is the hardware key kept?")
        box.press("Enter")
        marker = page.locator("a.cw-cite").first
        expect(marker).to_be_visible()
        expect(page.locator(".cw-source mark").first).to_contain_text("office safe")
        expect(page.locator(".cw-source").first).to_contain_text("release.md")
        marker.click()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()
    assert SCREENSHOT.stat().st_size > 10_000
