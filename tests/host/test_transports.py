"""Transports: dialling by model or by call_id on a real local socket, and the in-memory one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import websockets

import runner
from tests.host.embedding import FakeModel, write_project

WAIT = 30.0


class FakeRealtime:
    """A local WebSocket server that confirms every session.update and keeps what it was asked for."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.authorizations: list[str | None] = []
        self.beta_headers: list[str | None] = []
        self.headers: list[Any] = []

    async def handle(self, ws: Any) -> None:
        self.paths.append(ws.request.path)
        self.authorizations.append(ws.request.headers.get("Authorization"))
        self.beta_headers.append(ws.request.headers.get("OpenAI-Beta"))
        self.headers.append(ws.request.headers)
        async for message in ws:
            event = json.loads(message)
            if event["type"] == "session.update":
                await ws.send(json.dumps({"type": "session.updated", "event_id": "evt_1", "session": event["session"]}))


def _dial(tmp_path: Path, **open_options: Any) -> tuple[FakeRealtime, runner.Conversation]:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    server = FakeRealtime()

    async def main() -> runner.Conversation:
        async with websockets.serve(server.handle, "127.0.0.1", 0) as listening:
            port = listening.sockets[0].getsockname()[1]
            transport = runner.OpenAITransport(api_key="sk-test-sideband", base_url=f"http://127.0.0.1:{port}/v1", environ={})
            async with runner.Host(project, transport=transport) as host:
                async with host.open(variables={"customer": "ada"}, text=True, **open_options) as conv:
                    pass
            return conv

    return server, asyncio.run(main())


def test_a_call_id_dials_the_sideband_socket_of_that_call(tmp_path: Path) -> None:
    server, conv = _dial(tmp_path, call_id="rtc_u1_9c6574da8b8a41a18da9308f4ad974ce")
    assert server.paths == ["/v1/realtime?call_id=rtc_u1_9c6574da8b8a41a18da9308f4ad974ce"]
    assert server.authorizations == ["Bearer sk-test-sideband"]
    assert server.beta_headers == [None]
    assert conv.outcome is not None and conv.outcome.fatal_error is None


def test_without_a_call_id_the_socket_is_dialled_by_model(tmp_path: Path) -> None:
    server, _ = _dial(tmp_path)
    assert server.paths == ["/v1/realtime?model=gpt-realtime-2.1"]  # the config's default model


def test_the_handshake_carries_the_sdks_headers_and_offers_no_compression(tmp_path: Path) -> None:
    import openai

    server, _ = _dial(tmp_path)
    headers = server.headers[0]
    assert headers["User-Agent"] == f"AsyncOpenAI/Python {openai.__version__}"
    assert headers["X-Stainless-Lang"] == "python"
    assert "Sec-WebSocket-Extensions" not in headers  # the service offers no permessage-deflate; every frame would pay for it


def test_a_redirected_handshake_is_refused_and_not_followed(tmp_path: Path) -> None:
    """A redirect would carry the API key to whatever host the server names."""
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    elsewhere = FakeRealtime()

    async def main() -> str:
        async with websockets.serve(elsewhere.handle, "127.0.0.1", 0) as other:
            other_url = f"ws://127.0.0.1:{other.sockets[0].getsockname()[1]}/v1/realtime"

            def redirect(connection: Any, request: Any) -> Any:
                response = connection.respond(302, "moved\n")
                response.headers["Location"] = other_url
                return response

            async with websockets.serve(elsewhere.handle, "127.0.0.1", 0, process_request=redirect) as listening:
                port = listening.sockets[0].getsockname()[1]
                transport = runner.OpenAITransport(api_key="sk-test-redirect", base_url=f"http://127.0.0.1:{port}/v1", environ={})
                async with runner.Host(project, transport=transport) as host:
                    with pytest.raises(runner.SetupError) as refused:
                        async with host.open(variables={"customer": "ada"}, text=True):
                            pass
                return str(refused.value)

    message = asyncio.run(main())
    assert message.startswith("cannot connect to ws://127.0.0.1:")
    assert message.endswith("the server redirected the handshake (server rejected WebSocket connection: HTTP 302); runner does not follow redirects")
    assert elsewhere.paths == []


def test_openai_transport_without_a_key_says_so() -> None:
    try:
        runner.OpenAITransport(environ={})
    except runner.SetupError as error:
        message = str(error)
    assert message == "OPENAI_API_KEY is not set: export it to talk to the Realtime API, or use --offline for the built-in simulator."


def test_memory_transport_hands_each_client_event_to_the_handler_with_its_connection(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    seen: list[tuple[str, int]] = []
    model = FakeModel("Hi.")

    def handler(event: dict[str, Any], connection: Any) -> Any:
        seen.append((event["type"], connection.sent.index(event)))
        return model(event, connection)

    async def main() -> runner.MemoryTransport:
        transport = runner.MemoryTransport(handler)
        async with runner.Host(project, transport=transport) as host:
            async with host.open(variables={"customer": "ada"}, text=True) as conv:
                await conv.send_text("hello")
                assert await conv.wait_idle(WAIT)
        return transport

    transport = asyncio.run(main())
    assert seen == [("session.update", 0), ("conversation.item.create", 1), ("response.create", 2)]
    [connection] = transport.connections
    assert connection.sent[0]["session"]["instructions"].startswith("You serve ada.")
    assert (connection.model, connection.call_id) == ("gpt-realtime-2.1", None)


def test_memory_transport_accepts_lists_generators_and_coroutines(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    model = FakeModel("Hi.")

    async def as_coroutine(event: dict[str, Any], connection: Any) -> list[dict[str, Any]]:
        answer = model(event, connection)
        if hasattr(answer, "__aiter__"):
            return [server_event async for server_event in answer]
        return list(answer)

    def as_generator(event: dict[str, Any], connection: Any) -> Any:
        if event["type"] == "session.update":
            yield {"type": "session.updated", "session": event["session"]}

    async def reply_with(handler: Any, text: str | None) -> list[str]:
        async with runner.Host(project, transport=runner.MemoryTransport(handler)) as host:
            async with host.open(variables={"customer": "ada"}, text=True) as conv:
                if text is not None:
                    await conv.send_text(text)
                    assert await conv.wait_idle(WAIT)
        assert conv.outcome is not None and conv.outcome.fatal_error is None
        return [record.data["text"] async for record in conv.records() if record.kind == "assistant"]

    assert asyncio.run(reply_with(as_coroutine, "hello")) == ["Hi."]
    assert asyncio.run(reply_with(as_generator, None)) == []  # a generator configured the session


def test_a_dropped_memory_connection_is_dialled_again(tmp_path: Path) -> None:
    project = runner.load_project(write_project(tmp_path / "project"), environ={})

    async def main() -> tuple[runner.MemoryTransport, runner.Conversation]:
        transport = runner.MemoryTransport(FakeModel("Back again."))
        async with runner.Host(project, transport=transport, reconnect_delays=(0.01,)) as host:
            async with host.open(variables={"customer": "ada"}, text=True) as conv:
                await transport.connections[0].drop()
                await conv.send_text("are you there?")
                assert await conv.wait_idle(WAIT)
        return transport, conv

    transport, conv = asyncio.run(main())
    assert len(transport.connections) == 1  # the same connection object dials again
    assert conv.outcome is not None and conv.outcome.reconnects == 1


def test_a_transport_builds_one_client_for_all_its_connections_and_a_conversation_closing_leaves_it_open() -> None:
    from runner.config.model import Guardrail
    from runner.guardrails import GuardrailChecker

    async def main() -> None:
        transport = runner.OpenAITransport(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
        first, second = transport.connection(model="gpt-realtime-2.1"), transport.connection(model="gpt-realtime-2.1", call_id="rtc_1")
        shared = transport.rest_client()
        assert first._client is second._client is shared  # building an AsyncOpenAI loads the CA bundle: once per transport
        policy = Guardrail(name="mod", kind="moderation")
        checker = GuardrailChecker({"mod": policy}, client_factory=transport.rest_client, shared_client=True)
        checker._get_client()
        await checker.aclose()  # one conversation ends; the others still use the client
        assert not shared.is_closed()
        await transport.aclose()
        assert shared.is_closed()

    asyncio.run(main())


def test_the_client_is_built_when_the_host_opens_not_by_its_first_conversation(tmp_path: Path) -> None:
    """Building it loads the CA bundle (~30 ms): on the event loop of a busy server, every call would wait."""
    project = runner.load_project(write_project(tmp_path / "project"), environ={})

    async def main() -> bool:
        transport = runner.OpenAITransport(api_key="sk-test", base_url="http://127.0.0.1:9/v1", environ={})
        async with runner.Host(project, transport=transport):
            return transport._client is not None

    assert asyncio.run(main())


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "response.output_text.delta", "delta": "\\ud83d", "item_id": "i1"}',  # half an emoji: json.loads reads it
        '{"type": "x", "n": 123456789012345678901234567890, "f": -0.0, "big": 1e400, "t": "é ü \\n", "k": 1, "k": 2}',
        '{"type": "x", "v": NaN}',
    ],
)
def test_a_frame_reads_as_json_loads_reads_it(text: str) -> None:
    from runner.host.transport import parse_frame

    assert repr(parse_frame(text, text.encode("utf-8"))) == repr(json.loads(text))


@pytest.mark.parametrize("text", ['{"type": "x"} trailing', "\ufeff{}", "{'single': 1}", ""])
def test_a_frame_json_loads_refuses_is_refused(text: str) -> None:
    from runner.host.transport import parse_frame

    with pytest.raises(ValueError):
        parse_frame(text, text.encode("utf-8"))


class ChunkRecorder(asyncio.Protocol):
    """A Realtime endpoint on websockets' sans-I/O server: which client messages arrived in each read from the socket."""

    def __init__(self) -> None:
        from websockets.server import ServerProtocol

        self.protocol = ServerProtocol()
        self.chunks: list[list[str]] = []  # per read after the handshake: the types of the messages it completed
        self.both_arrived = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        from websockets.http11 import Request

        self.protocol.receive_data(data)
        types = []
        for event in self.protocol.events_received():
            if isinstance(event, Request):
                self.protocol.send_response(self.protocol.accept(event))
            elif event.opcode.name == "TEXT":
                message = json.loads(event.data)
                types.append(message["type"])
                if message["type"] == "session.update":
                    self.protocol.send_text(json.dumps({"type": "session.updated", "event_id": "evt_1", "session": message["session"]}).encode())
        if types:
            self.chunks.append(types)
        if "response.create" in types:
            self.both_arrived.set()
        for out in self.protocol.data_to_send():
            self.transport.write(out)
        if self.protocol.close_expected():  # the client's close answered: the server ends the TCP connection
            self.transport.close()


def test_the_events_one_step_makes_reach_the_socket_in_one_write(tmp_path: Path) -> None:
    """A user message and its response.create: one `send` system call, not two (each costs ~0.1 ms here)."""
    import socket
    import sys

    project = runner.load_project(write_project(tmp_path / "project"), environ={})
    endpoint = ChunkRecorder()
    socket_sends: list[int] = []
    endpoint_port = 0

    def count_sends(frame: Any, event: str, arg: Any) -> None:
        """Sends on the socket to the endpoint (not the event loop's own wake-up socket)."""
        owner = getattr(arg, "__self__", None)
        if event == "c_call" and getattr(arg, "__name__", "") == "send" and isinstance(owner, socket.socket) and owner.getpeername()[1] == endpoint_port:
            socket_sends.append(1)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(lambda: endpoint, "127.0.0.1", 0)
        async with server:
            nonlocal endpoint_port
            port = endpoint_port = server.sockets[0].getsockname()[1]
            transport = runner.OpenAITransport(api_key="sk-test-batch", base_url=f"http://127.0.0.1:{port}/v1", environ={})
            async with runner.Host(project, transport=transport) as host:
                async with host.open(variables={"customer": "ada"}, text=True) as conv:
                    sys.setprofile(count_sends)
                    try:
                        await conv.send_text("hello")
                        await asyncio.wait_for(endpoint.both_arrived.wait(), WAIT)
                    finally:
                        sys.setprofile(None)
                    conv.stop_now("the test is over")

    asyncio.run(main())
    assert ["conversation.item.create", "response.create"] in endpoint.chunks
    assert len(socket_sends) == 1


def test_a_sideband_refused_with_404_means_the_call_is_over(tmp_path: Path) -> None:
    """The service answers 404 to a sideband for a call that has ended: over, not a failure to connect."""
    from runner.host.errors import CallGone

    async def main() -> str:
        transport = runner.SimulatorTransport(None)
        await transport.start()
        try:
            connection = transport.connection(model="gpt-realtime-2.1", call_id="rtc_u1_00000000000000000000000000000000")
            with pytest.raises(CallGone) as gone:
                await connection.connect()
            return str(gone.value)
        finally:
            await transport.aclose()

    assert asyncio.run(main()) == "the call rtc_u1_00000000000000000000000000000000 is over (its sideband was refused with 404)"
