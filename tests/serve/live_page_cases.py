"""The web client in real Chromium on a GPT-Live target (run by tests/serve/test_live_page.py in a loopback-only namespace).

GPT-Live owns the turns and takes no Realtime client event, so the page hides push to
talk and sends nothing on the data channel; the call is the server's sideband's. The
same Chromium, fake microphone and example project as tests/serve/page_cases.py.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import AsyncIterator

from playwright.async_api import expect

from runner.host.project import load_project
from runner.host.transports import SimulatorTransport
from runner.serve import create_app
from tests.netns import require_loopback_only
from tests.serve.page_cases import chromium, example_project, run, session_folder, spoken_wav
from tests.served import on_uvicorn

require_loopback_only()


@contextlib.asynccontextmanager
async def serving_live(tmp_path: Path) -> AsyncIterator[tuple[str, SimulatorTransport]]:
    """The example project on GPT-Live, served on uvicorn in this loop over the simulator; yields its URL."""
    transport = SimulatorTransport("techcorp")
    app = create_app(load_project(example_project(tmp_path / "project"), environ={}, target="live"), transport, session_dir=tmp_path / "sessions")
    async with on_uvicorn(app) as url:
        yield url, transport


def test_on_gpt_live_the_page_hides_push_to_talk_and_sends_no_realtime_event(tmp_path: Path) -> None:
    microphone = spoken_wav(tmp_path / "caller.wav", [(2.0, "My number is five five five, one two three, four five six seven.")])

    async def body() -> None:
        async with serving_live(tmp_path) as (url, transport), chromium(tmp_path, microphone) as browser:
            transport.simulator.expect_user_audio("My number is (555) 123-4567.")
            page = browser.page
            await page.goto(url)
            await expect(page.locator("body")).to_have_attribute("data-target", "live")
            await expect(page.locator("#ptt")).to_be_hidden()
            await expect(page.get_by_role("button", name="Hold to talk")).to_be_hidden()
            await page.get_by_role("button", name="Connect").click()
            await expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=5000)
            transcript = page.locator("#transcript")
            await expect(transcript.locator("li.user").first).to_contain_text("My number is (555) 123-4567.", timeout=15000)
            await expect(transcript.locator("li.tool").first).to_contain_text("authenticate_user — done", timeout=10000)
            await expect(transcript.locator("li.agent", has_text="verified").first).to_be_visible(timeout=10000)
            await page.get_by_role("button", name="Mute").click()
            await expect(page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
            log = page.locator("#log")
            await expect(log.locator("li.in", has_text="session.output_transcript.delta").first).to_be_attached()
            await browser.shot(tmp_path, "page-live")
            assert await log.locator("li.out", has_text="(page)").count() == 0, await log.locator("li.out").all_inner_texts()
            assert await log.locator("li.error").count() == 0, await log.locator("li.error").all_inner_texts()
            await page.get_by_role("button", name="Disconnect").click()
            await expect(page.locator("#status")).to_have_text("Call ended")
            assert browser.console_errors == []
        report = json.loads((session_folder(tmp_path) / "report.json").read_text())
        assert report["end_reason"] == "hung up by the caller", report["end_reason"]
        assert [call["name"] for call in report["tool_calls"]][:1] == ["authenticate_user"], report["tool_calls"]

    run(body)
