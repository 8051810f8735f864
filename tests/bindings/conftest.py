"""Fixture projects on disk, hand-built configs and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from runner.bindings.context import ToolContext
from runner.config.model import Config, Limits, PythonBinding, SessionSettings, Tool

NO_PARAMETERS = {"type": "object", "properties": {}, "additionalProperties": False}

TOOLS_MODULE = '''
import asyncio
import dataclasses
import datetime
import decimal
import sys
import threading
from pathlib import PurePosixPath

from runner.bindings import ToolContext

RELEASE = threading.Event()
PAIR = threading.Barrier(2, timeout=5)


def add(a: int, b: int) -> dict:
    return {"sum": a + b}


async def async_add(a: int, b: int) -> dict:
    await asyncio.sleep(0)
    return {"sum": a + b}


def thread_name() -> str:
    return threading.current_thread().name


async def async_thread_name() -> str:
    return threading.current_thread().name


def blocked() -> str:
    RELEASE.wait(5)
    return "finished late"


def release() -> None:
    RELEASE.set()


STUCK = threading.Event()


def stuck() -> str:
    STUCK.wait(60)
    return "unstuck"


def unstick() -> None:
    STUCK.set()


def meet() -> str:
    PAIR.wait()
    return "met"


CROWD = threading.Barrier(20, timeout=5)


def crowd() -> str:
    CROWD.wait()
    return "all there"


async def async_sleep() -> str:
    await asyncio.sleep(30)
    return "woke"


def explode(customer_id: str) -> dict:
    raise LookupError(f"no such customer: {customer_id}")


def own_timeout() -> None:
    raise TimeoutError("database is locked")


def who(context) -> dict:
    return {
        "session": context.session_id,
        "agent": context.agent,
        "variables": dict(context.variables),
        "turns": len(context.transcript),
        "state_dir": str(context.state_dir),
    }


def who_annotated(topic: str, ctx: ToolContext) -> str:
    return f"{ctx.agent} on {topic}"


@dataclasses.dataclass
class Invoice:
    number: str
    due: datetime.date


def converted() -> dict:
    return {
        "invoice": Invoice("INV-1", datetime.date(2026, 1, 31)),
        "tags": {"b", "a"},
        "amount": decimal.Decimal("12.50"),
        "path": PurePosixPath("/srv/data"),
    }


def opaque() -> object:
    return object()


def not_a_number() -> float:
    return float("nan")


def many_rows(count: int) -> list:
    return [{"row": i, "text": "x" * 40} for i in range(count)]


def long_text(count: int) -> str:
    return "y" * count


def refuse(invoice_id: str) -> dict:
    return {"error": "not_found", "message": f"no invoice {invoice_id}"}


def nothing() -> None:
    return None


def tuple_keys() -> dict:
    return {(1, 2): "x"}


def deep_list() -> list:
    value: list = []
    for _ in range(100_000):
        value = [value]
    return value


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no words for it")


def unprintable() -> None:
    raise Unprintable()


def interrupt() -> None:
    raise KeyboardInterrupt


def exit_three() -> None:
    sys.exit(3)


async def async_exit_three() -> None:
    sys.exit(3)


async def async_interrupt() -> None:
    raise KeyboardInterrupt
'''


def _write_project(root: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def _make_config(base_dir: Path, tools: dict[str, Tool], *, limits: Limits | None = None) -> Config:
    return Config(
        path=base_dir / "agents.yaml",
        version=1,
        name="fixture",
        model="gpt-realtime",
        start="main",
        voice="marin",
        variables={},
        session=SessionSettings(),
        limits=limits or Limits(),
        agents={},
        tools=tools,
        guardrails={},
        state_dir=base_dir / ".runner",
    )


def _python_tool(name: str, function: str, parameters: dict[str, Any] | None = None, *, timeout: float | None = None) -> Tool:
    return Tool(
        name=name,
        description=f"the fixture's {function}",
        parameters=parameters if parameters is not None else NO_PARAMETERS,
        binding=PythonBinding(module="tools.basic", function=function),
        timeout=timeout,
    )


FIXTURE_PACKAGES = ("tools", "greetings")  # top-level names the fixture projects define


@pytest.fixture(autouse=True)
def restore_fixture_packages() -> Iterator[None]:
    """Put back the `tools` modules other test folders imported (the example project's) after each test."""
    before = {name: module for name, module in sys.modules.items() if name.partition(".")[0] in FIXTURE_PACKAGES}
    yield
    for name in [n for n in sys.modules if n.partition(".")[0] in FIXTURE_PACKAGES]:
        del sys.modules[name]
    sys.modules.update(before)


@pytest.fixture
def write_project() -> Callable[[Path, dict[str, str]], Path]:
    """`write_project(root, {relative path: source})` writes the files and returns `root`."""
    return _write_project


@pytest.fixture
def make_config() -> Callable[..., Config]:
    """`make_config(base_dir, {name: Tool}, limits=...)`: a Config with just those tools."""
    return _make_config


@pytest.fixture
def python_tool() -> Callable[..., Tool]:
    """`python_tool(name, function, parameters=None, timeout=None)`: a tool bound to `tools.basic`."""
    return _python_tool


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with a `tools` package holding every kind of tool function."""
    return _write_project(tmp_path / "project", {"tools/__init__.py": "", "tools/basic.py": TOOLS_MODULE})


@pytest.fixture
def context(tmp_path: Path) -> ToolContext:
    return ToolContext(
        session_id="sess-1",
        agent="support",
        variables={"company_name": "TechCorp"},
        transcript=[{"role": "user", "text": "hi"}, {"role": "assistant", "text": "hello"}],
        state_dir=tmp_path / "state",
    )


ENDLESS_BYTES_MAX = 64 * 1024 * 1024  # what /endless sends to a client that never stops reading


class RecordingServer(ThreadingHTTPServer):
    """Answers a few fixed routes and remembers every request it got."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.release_slow = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: RecordingServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else None
        self.server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        if self.path.startswith("/missing"):
            self._reply(404, "text/plain", "no such user\n" + "z" * 1000)
        elif self.path.startswith("/slow"):
            self.server.release_slow.wait(5)
            self._reply(200, "text/plain", "late")
        elif self.path.startswith("/text"):
            self._reply(200, "text/plain; charset=utf-8", "plain words")
        elif self.path.startswith("/endless"):
            self._stream_until_hung_up()
        elif self.path.startswith("/moved"):
            self.send_response(302)
            self.send_header("Location", "/text")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            echo = {"method": self.command, "path": self.path, "body": json.loads(body) if body else None}
            self._reply(200, "application/json", json.dumps(echo))

    def _stream_until_hung_up(self) -> None:
        """A body with no length that goes on until the client hangs up (or ENDLESS_BYTES_MAX, to spare memory)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(ENDLESS_BYTES_MAX // len(chunk)):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _reply(self, status: int, content_type: str, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    server = RecordingServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.release_slow.set()
    server.shutdown()
    server.server_close()
    thread.join()
