"""Browser calls through the Realtime calls API, each one a conversation on the host.

The browser's SDP offer goes to the calls endpoint with the start agent's compiled
session and our key; the SDP answer goes back, and the call id (only in the `Location`
header) opens a sideband conversation (`host.open(call_id=...)`) that runs the tools,
handoffs and guardrails and writes the session folder as `runner run` does. The service
plays the audio and truncates it itself. A call ends from the page (`hangup`), when
its conversation ends, or when the service ends it (the browser vanished): in every case
the conversation is closed (report written) and the call hung up. The key never leaves
this process: the browser gets an SDP answer, or a short-lived client secret.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Mapping

from runner.host.artifacts import Redactor
from runner.host.errors import CallGone

if TYPE_CHECKING:
    from runner.core.records import Record
    from runner.host.conversation import Conversation
    from runner.host.host import Host
    from runner.host.driver import Outcome

logger = logging.getLogger(__name__)

TOKEN_SECONDS = 60  # a client secret only has to last until the browser has dialled
FEED_BACKLOG = 5000  # entries a call keeps for a page that subscribes late (or twice)
ENDED_FEEDS_KEPT = 20  # ended calls whose feed a page can still read (it may subscribe just after the end)
FEED_QUEUE = 2000  # entries one slow subscriber may hold before it is cut off
AUDIO_FIELDS = {"input_audio_buffer.append": "audio", "response.output_audio.delta": "delta",
                "session.input_audio.append": "audio", "session.output_audio.delta": "delta"}


class CallRefused(Exception):
    """A call that cannot start: `status` is the HTTP status for the page, `message` says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class CallFeed:
    """What a call's page sees: its records and the sideband's raw events, as JSON entries.

    Each subscriber gets the backlog first, then entries as they happen, then None once
    the call is over. A subscriber that falls `FEED_QUEUE` entries behind is cut off (it
    gets None early) rather than slowing the call down.
    """

    def __init__(self, call_id: str, redactor: Redactor) -> None:
        self.call_id = call_id
        self.redactor = redactor  # events come raw from the sideband: the `${ENV}` secrets are masked as in events.jsonl
        self.backlog: collections.deque[dict[str, Any]] = collections.deque(maxlen=FEED_BACKLOG)
        self.subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self.closed = False

    def record(self, record: Record, t: float) -> None:
        self.publish({"kind": "record", "record": record.kind, "t": round(t, 3), "data": record.to_json()})

    def event(self, direction: str, event: dict[str, Any], t: float) -> None:
        shown = self.redactor.value(event) if self.redactor else event
        audio_field = AUDIO_FIELDS.get(event.get("type", ""))
        if audio_field is not None and isinstance(event.get(audio_field), str):
            shown = {**shown, audio_field: f"<{len(event[audio_field]) * 3 // 4} bytes>"}
        self.publish({"kind": "event", "direction": direction, "t": round(t, 3), "event": shown})

    def publish(self, entry: dict[str, Any]) -> None:
        if self.closed:
            return
        self.backlog.append(entry)
        for queue in list(self.subscribers):
            if queue.qsize() >= FEED_QUEUE:
                self.subscribers.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(entry)

    def close(self, entry: dict[str, Any]) -> None:
        """The call is over: `entry` (how it ended) is the last thing every subscriber gets."""
        self.publish(entry)
        self.closed = True
        for queue in self.subscribers:
            queue.put_nowait(None)
        self.subscribers.clear()

    async def entries(self) -> AsyncIterator[dict[str, Any]]:
        """The backlog, then live entries until the call is over (or this subscriber fell too far behind)."""
        backlog = list(self.backlog)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        if self.closed:
            queue.put_nowait(None)
        else:
            self.subscribers.add(queue)  # with no await since the copy: nothing is missed or seen twice
        try:
            for entry in backlog:
                yield entry
            while (entry := await queue.get()) is not None:
                yield entry
        finally:
            self.subscribers.discard(queue)


@dataclass
class ActiveCall:
    call_id: str
    feed: CallFeed
    task: asyncio.Task[None] | None = None
    conversation: Conversation | None = None
    ready: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class CallService:
    """The calls one host serves: start, hang up, mint client secrets."""

    def __init__(self, host: Host, *, session_dir: Path | None = None, token_seconds: int = TOKEN_SECONDS) -> None:
        self.host = host
        self.session_dir = session_dir
        self.token_seconds = token_seconds
        self.calls: dict[str, ActiveCall] = {}
        self.redactor = Redactor.for_config(host.project.config, host.project.environ)
        self.ended: collections.OrderedDict[str, CallFeed] = collections.OrderedDict()  # recent calls' feeds, for a late page
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The upstream REST client (the OpenAI API, or the simulator with --offline)."""
        if self._client is None:
            self._client = self.host.transport.rest_client()
        return self._client

    @property
    def live(self) -> bool:
        """The project targets GPT-Live: a call is `POST /v1/live/sessions`, its sideband `.../attach`."""
        return self.host.project.config.target == "live"

    def start_session(self, variables: Mapping[str, str]) -> dict[str, Any]:
        """The start agent's compiled session: what the call starts with before the sideband attaches."""
        from runner.host.errors import SetupError

        try:
            compiled, values, start = self.host.project.agents(text=False, variables=variables, start=None)
        except SetupError as error:
            raise CallRefused(400, f"bad variables: {error}") from None
        if self.live:
            from runner.compile_live import compile_live

            project = self.host.project
            program = compile_live(project.config, values=values, guardrails_enabled=project.guardrails_enabled, environ=project.environ, transport="webrtc")
            return dict(program.agents[start].start_session)
        return dict(compiled[start].session)

    async def start(self, offer: str, variables: Mapping[str, str]) -> tuple[str, str]:
        """Dial the calls endpoint with `offer`; returns (call_id, SDP answer) once the sideband is configured."""
        session = self.start_session(variables)
        if self.host.open_count >= self.host.max_conversations:
            raise CallRefused(503, f"the server is at capacity ({self.host.max_conversations} calls); try again when one ends")
        call_id, answer = await (self._create_live(offer, session) if self.live else self._create_realtime(offer, session))
        call = ActiveCall(call_id, CallFeed(call_id, self.redactor))
        self.calls[call_id] = call
        call.task = asyncio.get_running_loop().create_task(self._serve(call, variables), name=f"call {call_id}")
        try:
            await asyncio.shield(call.ready)
        except CallRefused:
            raise
        except Exception as failure:
            raise CallRefused(502, f"the call's sideband did not open: {failure}") from None
        return call_id, answer

    async def _create_realtime(self, offer: str, session: dict[str, Any]) -> tuple[str, str]:
        import openai

        try:
            raw = await self.client.realtime.calls.with_raw_response.create(sdp=offer, session=session)
        except openai.BadRequestError as refused:
            raise CallRefused(400, _api_message(refused)) from None
        except openai.APIError as failure:
            raise CallRefused(502, f"the Realtime calls endpoint failed: {_api_message(failure)}") from None
        call_id = raw.headers.get("location", "").rstrip("/").rsplit("/", 1)[-1]
        if not call_id:
            raise CallRefused(502, "the Realtime calls endpoint answered without a Location header naming the call")
        return call_id, raw.http_response.text

    async def _create_live(self, offer: str, session: dict[str, Any]) -> tuple[str, str]:
        """GPT-Live: the offer and the session in one JSON body; the answer names the session the sideband attaches to."""
        import openai

        try:
            created = await self.client.live.create(session=session, transport={"type": "webrtc", "sdp": offer})
        except openai.BadRequestError as refused:
            raise CallRefused(400, _api_message(refused)) from None
        except openai.APIError as failure:
            raise CallRefused(502, f"the GPT-Live sessions endpoint failed: {_api_message(failure)}") from None
        return created.session.id, created.transport.sdp

    async def _serve(self, call: ActiveCall, variables: Mapping[str, str]) -> None:
        """The call's conversation from sideband open to close; then the call is hung up."""
        feed = call.feed
        _, _, start = self.host.project.agents(text=False, variables=variables, start=None)
        feed.publish({"kind": "call", "call_id": call.call_id, "agent": start})
        opening = self.host.open(call_id=call.call_id, variables=variables, session_dir=self.session_dir, on_record=feed.record, on_event=feed.event, channel="browser",
                                 records=False)
        try:
            async with opening as conversation:
                call.conversation = conversation
                call.ready.set_result(None)
                await conversation.driver.wait_ended()
        except CallGone as gone:  # the caller left (or the service ended the call) before the sideband attached
            if not call.ready.done():
                call.ready.set_exception(CallRefused(410, f"the call ended before its sideband attached: {gone}"))
            logger.info("call %s: %s", call.call_id, gone)
        except Exception as failure:
            if not call.ready.done():
                call.ready.set_exception(failure)
            logger.error("call %s: %s", call.call_id, failure)
        finally:
            if not call.ready.done():
                call.ready.cancel()
            await self._hang_up_upstream(call.call_id)
            self.retire(call, opening.outcome)

    def retire(self, call: ActiveCall, outcome: Outcome | None) -> None:
        """The call is over: off the active list; its feed ends and stays readable for a while."""
        self.calls.pop(call.call_id, None)
        call.feed.close({"kind": "end", "reason": outcome.reason if outcome else "not started", "error": outcome.fatal_error if outcome else None})
        self.ended[call.call_id] = call.feed
        while len(self.ended) > ENDED_FEEDS_KEPT:
            self.ended.popitem(last=False)

    def feed(self, call_id: str) -> CallFeed | None:
        """A call's feed while it runs, or for a while after it ended; None for an unknown call."""
        call = self.calls.get(call_id)
        return call.feed if call is not None else self.ended.get(call_id)

    async def hangup(self, call_id: str, reason: str = "hung up by the caller") -> bool:
        """End a call from our side; False when there is no such call. Returns once its artifacts are written."""
        call = self.calls.get(call_id)
        if call is None or call.task is None:
            return False
        if call.conversation is None:  # its sideband is still opening: give up on it
            call.task.cancel()
        elif not call.conversation.ended:
            call.conversation.end_reason = reason
            call.conversation.stop_now(reason)
        await asyncio.gather(call.task, return_exceptions=True)
        return True

    async def _hang_up_upstream(self, call_id: str) -> None:
        import openai

        if self.live:  # the conversation's own session.close ended it; Live's hangup verb is for SIP calls
            return
        try:
            await self.client.realtime.calls.hangup(call_id)
        except openai.NotFoundError:  # the service ended it already (the browser left, or the call timed out)
            logger.debug("call %s was already over when it was hung up", call_id)
        except openai.APIError as failure:
            logger.warning("call %s: hangup failed: %s", call_id, _api_message(failure))

    async def client_secret(self, variables: Mapping[str, str]) -> dict[str, Any]:
        """A short-lived client secret with the start session (and so its tools) pinned server-side."""
        import openai

        if self.live:
            raise CallRefused(400, "GPT-Live has no client secrets: POST the browser's offer to /calls, and the server dials with its key")
        session = self.start_session(variables)
        try:
            secret = await self.client.realtime.client_secrets.create(
                expires_after={"anchor": "created_at", "seconds": self.token_seconds}, session=session
            )
        except openai.APIError as failure:
            raise CallRefused(502, f"the client secrets endpoint failed: {_api_message(failure)}") from None
        return {"value": secret.value, "expires_at": secret.expires_at, "session": secret.session.model_dump(mode="json", exclude_none=True)}

    async def aclose(self) -> None:
        """Hang up every call (server shutdown); each one's report is written."""
        await asyncio.gather(*(self.hangup(call_id, "the server shut down") for call_id in list(self.calls)), return_exceptions=True)
        if self._client is not None:
            await self._client.close()
            self._client = None


def _api_message(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(getattr(error, "message", None) or error)
