"""`${ENV}` values the config interpolates are secrets: the server and the tool get them,
no artifact and no console line shows them (they read `${NAME}` instead)."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from pathlib import Path
from typing import Any, Iterator

from tests.threaded_websocket import serving

TOKEN = 's3cr3t-"docs"-token-8c1f'
CONFIG = """\
version: 1
name: docs desk
model: gpt-realtime-2.1
start: solo
tools:
  docs:
    description: The documentation server.
    mcp:
      server_url: https://mcp.example.com/mcp?key=${{DOCS_TOKEN}}
      headers: {{Authorization: "Bearer ${{DOCS_TOKEN}}"}}
  search:
    description: Search the docs.
    parameters: {{type: object, properties: {{}}}}
    http:
      method: GET
      url: http://127.0.0.1:{port}/search
      headers: {{Authorization: "Bearer ${{DOCS_TOKEN}}"}}
agents:
  solo:
    description: The only agent.
    instructions: Answer briefly.
    tools: [docs, search]
"""


class _Rejecting(http.server.BaseHTTPRequestHandler):
    """A docs API that quotes the credential back in its 401 body, as some do."""

    seen: list[str] = []

    def do_GET(self) -> None:
        authorization = self.headers.get("Authorization", "")
        self.seen.append(authorization)
        body = f"invalid credential: {authorization}".encode()
        self.send_response(401)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _frames_for(response: int) -> list[dict[str, Any]]:
    """First response: a call to `search`; second: a reply that quotes the secret."""
    rid = f"resp_{response}"
    created = {"type": "response.created", "event_id": f"e{response}c", "response": {"id": rid, "object": "realtime.response", "status": "in_progress", "output": []}}
    done = {"type": "response.done", "event_id": f"e{response}d", "response": {"id": rid, "object": "realtime.response", "status": "completed", "output": []}}
    if response == 1:
        call = {"type": "response.function_call_arguments.done", "event_id": "e1a", "response_id": rid, "item_id": "item_call",
                "output_index": 0, "call_id": "call_1", "name": "search", "arguments": "{}"}
        return [created, call, done]
    where = {"response_id": rid, "item_id": "item_reply", "output_index": 0, "content_index": 0}
    said = f"The docs refused the key {TOKEN}."  # a model that repeats what it saw
    return [created, {"type": "response.output_text.delta", "event_id": "e2t", **where, "delta": said},
            {"type": "response.output_text.done", "event_id": "e2u", **where, "text": said}, done]


@contextlib.contextmanager
def _realtime_server(received: list[dict[str, Any]]) -> Iterator[int]:
    async def handler(ws: Any) -> None:
        responses = 0
        async for message in ws:
            event = json.loads(message)
            received.append(event)
            if event["type"] == "session.update":
                await ws.send(json.dumps({"type": "session.updated", "event_id": "eu", "session": {"type": "realtime"}}))
            elif event["type"] == "response.create":
                responses += 1
                for frame in _frames_for(responses):
                    await ws.send(json.dumps(frame))

    with serving(handler) as port:
        yield port


def test_interpolated_secrets_reach_the_servers_but_no_artifact_or_console_line(tmp_path: Path, e2e: Any) -> None:
    docs_api = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Rejecting)
    threading.Thread(target=docs_api.serve_forever, daemon=True).start()
    (tmp_path / "agents.yaml").write_text(CONFIG.format(port=docs_api.server_address[1]), encoding="utf-8")
    received: list[dict[str, Any]] = []
    try:
        with _realtime_server(received) as port:
            done = e2e.run_runner(
                tmp_path, ["run", "agents.yaml", "--text", "--base-url", f"http://127.0.0.1:{port}/v1"], "look it up\n",
                OPENAI_API_KEY=e2e.FAKE_API_KEY, DOCS_TOKEN=TOKEN,
            )
    finally:
        docs_api.shutdown()
    assert done.returncode == 0, done.stderr

    # The secret was really used: in the session.update and in the tool's request.
    mcp = next(tool for tool in received[0]["session"]["tools"] if tool["type"] == "mcp")
    assert (mcp["server_url"], mcp["headers"]) == (f"https://mcp.example.com/mcp?key={TOKEN}", {"Authorization": f"Bearer {TOKEN}"})
    assert _Rejecting.seen == [f"Bearer {TOKEN}"]

    # ... and written nowhere.
    files = sorted(path.name for path in done.session.iterdir())
    assert files == ["events.jsonl", "report.json", "transcript.jsonl", "transcript.md"]
    for path in done.session.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "s3cr3t" not in text, path.name
    assert "s3cr3t" not in done.stdout and "s3cr3t" not in done.stderr

    logged = e2e.read_jsonl(done.session / "events.jsonl")
    update = next(entry["event"] for entry in logged if entry["dir"] == "out" and entry["event"]["type"] == "session.update")
    logged_mcp = next(tool for tool in update["session"]["tools"] if tool["type"] == "mcp")
    assert (logged_mcp["server_url"], logged_mcp["headers"]) == ("https://mcp.example.com/mcp?key=${DOCS_TOKEN}", {"Authorization": "Bearer ${DOCS_TOKEN}"})
    result = next(entry for entry in e2e.read_jsonl(done.session / "transcript.jsonl") if entry["kind"] == "tool_result")
    assert "invalid credential: Bearer ${DOCS_TOKEN}" in result["output"]
    assert "solo: The docs refused the key ${DOCS_TOKEN}." in done.stdout.splitlines()


def test_the_redactor_masks_the_longest_secret_first_and_leaves_short_values_alone() -> None:
    from runner.host.artifacts import Redactor

    redactor = Redactor({"SHORT": "abc", "KEY": "token-1234", "LONGER": "token-1234-extra"})
    assert redactor.text("a token-1234-extra and a token-1234 and abc") == "a ${LONGER} and a ${KEY} and abc"
    assert not Redactor({"PORT": "80"}) and not Redactor()
