"""Protection: body cap, CORS allow-list, bearer token, rate limit on new calls, refusal while draining; the admin view."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx

from runner.host.project import load_project
from runner.host.transports import SimulatorTransport
from runner.serve import create_app
from runner.serve.protect import DRAINING_MESSAGE
from runner.serve.settings import ServeOptions
from tests.host.embedding import write_project
from tests.serve.test_ops import WAIT, run, serving

EMPTY_OFFER = {"error": "the SDP offer is empty: POST the browser's offer (RTCPeerConnection.createOffer) as the body"}
SDP = {"Content-Type": "application/sdp"}


def test_a_body_past_the_cap_is_refused_by_its_length_or_as_it_streams(tmp_path: Path) -> None:
    failures: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            failures.append(record.getMessage())

    async def body() -> None:
        async with serving(tmp_path, options=ServeOptions(max_body_bytes=2048)) as (http, _):
            logging.getLogger("uvicorn.error").addHandler(collect)  # uvicorn has configured its loggers by now
            declared = await http.post("/calls", content=b"v" * 3000, headers=SDP)
            assert (declared.status_code, declared.json()) == (413, {"error": "the request body is larger than 2048 bytes"})

            async def chunks():
                for _ in range(4):
                    yield b"x" * 1000

            streamed = await http.post("/calls", content=chunks(), headers=SDP)
            assert (streamed.status_code, streamed.json()) == (413, {"error": "the request body is larger than 2048 bytes"})
            small = await http.post("/calls", content=b"", headers=SDP, params={"customer": "C-1"})
            assert (small.status_code, small.json()) == (400, EMPTY_OFFER)

    collect = Collect()
    try:
        run(body)
    finally:
        logging.getLogger("uvicorn.error").removeHandler(collect)
    assert failures == [], "the refused body is no error of the app"


def test_cors_answers_only_the_allowed_origins(tmp_path: Path) -> None:
    async def body() -> None:
        allowed = "https://app.example.com"
        async with serving(tmp_path, options=ServeOptions(cors_origins=(allowed,))) as (http, _):
            preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
            ok = await http.options("/calls", headers={"Origin": allowed, **preflight})
            assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == allowed
            assert "POST" in ok.headers["access-control-allow-methods"]
            other = await http.options("/calls", headers={"Origin": "https://evil.example.com", **preflight})
            assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
            simple = await http.get("/healthz", headers={"Origin": "https://evil.example.com"})
            assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers
            refused = await http.post("/calls", content=b"", headers={"Origin": allowed, **SDP})
            assert refused.headers["access-control-allow-origin"] == allowed  # the page can read why
        async with serving(tmp_path, "plain") as (http, _):
            assert "access-control-allow-origin" not in (await http.get("/healthz", headers={"Origin": allowed})).headers

    run(body)


def test_with_a_token_the_web_client_and_admin_routes_need_it_and_probes_do_not(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path, options=ServeOptions(admin_token="s3cret-token")) as (http, _):
            needed = {"error": "this route needs Authorization: Bearer <token> (the server's RUNNER_ADMIN_TOKEN)"}
            for method, path in (("POST", "/calls"), ("POST", "/token"), ("POST", "/calls/x/hangup"), ("GET", "/admin/calls")):
                bare = await http.request(method, path)
                assert (bare.status_code, bare.json(), bare.headers["www-authenticate"]) == (401, needed, "Bearer"), path
                wrong = await http.request(method, path, headers={"Authorization": "Bearer s3cret-tokeN"})
                assert wrong.status_code == 401, path
            right = await http.post("/calls", content=b"", headers={"Authorization": "Bearer s3cret-token", **SDP}, params={"customer": "C-1"})
            assert (right.status_code, right.json()) == (400, EMPTY_OFFER)
            assert (await http.get("/admin/calls", headers={"Authorization": "Bearer s3cret-token"})).json() == {"calls": []}
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await http.get(path)).status_code == 200, path

    run(body)


def test_without_a_token_the_admin_routes_answer_loopback_only(tmp_path: Path) -> None:
    async def body() -> None:
        app = create_app(load_project(write_project(tmp_path / "project"), environ={}), SimulatorTransport(tmp_path / "project" / "rules.yaml"))
        remote = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=remote, base_url="http://runner") as http:
            refused = await http.get("/admin/calls")
            assert (refused.status_code, refused.json()) == (403, {"error": "the admin routes answer loopback clients only unless RUNNER_ADMIN_TOKEN is set"})
        async with serving(tmp_path, "local") as (http, _):
            assert (await http.get("/admin/calls")).json() == {"calls": []}

    run(body)


def test_new_calls_are_limited_per_client_address(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path, options=ServeOptions(rate_limit_rpm=2)) as (http, _):
            for _ in range(2):
                assert (await http.post("/calls", content=b"", headers=SDP)).status_code == 400
            limited = await http.post("/calls", content=b"", headers=SDP)
            assert limited.status_code == 429
            retry = int(limited.headers["retry-after"])
            assert 1 <= retry <= 60
            assert limited.json() == {"error": f"too many new calls from 127.0.0.1: at most 2 a minute; retry in {retry} s"}
            assert (await http.get("/admin/calls")).status_code == 200  # only new calls count

    run(body)


def test_while_draining_new_browser_calls_are_refused_with_503(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, server):
            server.draining = True
            for path in ("/calls", "/token"):
                refused = await http.post(path, content=b"v=0", headers=SDP, params={"customer": "C-1"})
                assert (refused.status_code, refused.json(), refused.headers["retry-after"]) == (503, {"error": DRAINING_MESSAGE}, "5")

    run(body)


def test_the_admin_view_shows_live_calls_and_hangs_one_up(tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(tmp_path) as (http, server):
            async with server.running_host.open(variables={"customer": "C-4"}, text=True, channel="twilio") as conversation:
                await conversation.send_text("who am i")
                assert await conversation.wait_idle(WAIT)
                (view,) = (await http.get("/admin/calls")).json()["calls"]
                assert (view["session_id"], view["call_id"], view["channel"], view["agent"]) == (conversation.id, None, "twilio", "desk")
                assert view["duration_s"] >= 0
                assert [(line["role"], line["text"]) for line in view["transcript"]][0] == ("user", "who am i")
                assert view["transcript"][-1]["role"] == "assistant" and view["transcript"][-1]["text"].startswith("You are C-4")
                assert (await http.post("/admin/calls/nope/hangup")).json() == {"error": "no active call 'nope'"}
                hangup = asyncio.ensure_future(http.post(f"/admin/calls/{conversation.id}/hangup"))
                await asyncio.wait_for(conversation.driver.wait_ended(), WAIT)
            answer = await hangup
            assert answer.json() == {"session_id": conversation.id, "call_id": None, "ended": True}
            assert (await http.get("/admin/calls")).json() == {"calls": []}
        report = json.loads((conversation.folder / "report.json").read_text())
        assert report["end_reason"] == "hung up by an operator"

    run(body)
