"""`Host`: many concurrent conversations on one loaded project, within fixed limits.

A host owns what its conversations share: the transport (one simulator, say) and the
tool executor (tool modules imported once). A conversation past `max_conversations` is
refused at once with `CapacityError`, so an overloaded process says no instead of
slowing every conversation down.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Mapping, Protocol, Sequence

from .bounds import tool_log
from .driver import RECONNECT_DELAYS, SETUP_TIMEOUT
from .errors import CapacityError, SetupError

if TYPE_CHECKING:
    import asyncio

    from ..core.records import Record
    from .conversation import Conversation
    from .project import Project
    from .transports import BaseTransport

MAX_CONVERSATIONS = 100
MAX_TOOL_CALLS = 8  # per conversation, running at once; as many more may wait
RECORD_QUEUE = 1000  # records a conversation holds for a `records()` consumer that falls behind
AFTER_CALL_GRACE = 120.0  # seconds a closing host waits for post-call work (analysis, webhooks) still running

logger = logging.getLogger(__name__)


class Observer(Protocol):
    """Sees every conversation of a host (metrics, logs, an admin view) without the channel doing anything.

    Called synchronously on the event loop: keep it quick. An exception it raises is logged, never the conversation's.
    """

    def opened(self, conversation: Conversation) -> None: ...

    def record(self, conversation: Conversation, record: Record, t: float) -> None: ...

    def closed(self, conversation: Conversation) -> None: ...


class Host:
    """`async with Host(project, transport=...) as host:` then `async with host.open(...) as conv:`.

    Without `transport`, conversations go to the OpenAI Realtime API (OPENAI_API_KEY).
    """

    def __init__(
        self,
        project: Project,
        *,
        transport: BaseTransport | None = None,
        max_conversations: int = MAX_CONVERSATIONS,
        max_tool_calls: int = MAX_TOOL_CALLS,
        record_queue: int = RECORD_QUEUE,
        setup_timeout: float = SETUP_TIMEOUT,
        reconnect_delays: Sequence[float] = RECONNECT_DELAYS,
        observers: Sequence[Observer] = (),
    ) -> None:
        if transport is None:
            from .transports import OpenAITransport

            transport = OpenAITransport(environ=project.environ)
        self.project = project
        self.transport = transport
        self.max_conversations = max_conversations
        self.max_tool_calls = max_tool_calls
        self.record_queue = record_queue
        self.setup_timeout = setup_timeout
        self.reconnect_delays = tuple(reconnect_delays)
        self.open_count = 0
        self.observers: list[Observer] = list(observers)
        self.tools: Any = None  # runner.bindings.ToolExecutor while the host is open
        self.after_calls: set[asyncio.Task[Any]] = set()  # post-call work of closed conversations, still running
        self.after_call_grace = AFTER_CALL_GRACE

    async def __aenter__(self) -> Host:
        from ..bindings import BindingError, ToolExecutor

        self.project.set_up()
        try:
            self.tools = ToolExecutor(self.project.config, environ=self.project.environ, log=lambda line: tool_log.get()(line))
        except BindingError as error:
            raise SetupError(str(error)) from None
        try:
            await self.tools.start()
            await self.transport.start()
        except BindingError as error:
            await self.tools.aclose()
            raise SetupError(str(error)) from None
        except BaseException:
            await self.tools.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._finish_after_calls()
            await self.transport.aclose()
        finally:
            await self.tools.aclose()
            self.tools = None

    def open(
        self,
        *,
        variables: Mapping[str, Any] | None = None,
        state_dir: Path | None = None,
        session_dir: Path | None = None,
        text: bool = False,
        start: str | None = None,
        call_id: str | None = None,
        channel: str | None = None,
        audio_format: str | None = None,
        on_record: Callable[[Record, float], None] | None = None,
        on_event: Callable[[str, dict[str, Any], float], None] | None = None,
        stop_setup: Sequence[asyncio.Event] = (),
        records: bool = True,
    ) -> Conversation:
        """A new conversation, started by `async with` (which raises `CapacityError` when full).

        `state_dir`: the folder its tools see as `ToolContext.state_dir` (default: the
        config's). `session_dir`: the parent of its artifacts folder (default:
        `<state_dir>/sessions`). `call_id`: join an existing SIP/WebRTC call instead of
        starting one. `channel` ("browser", "sip", "twilio", ...) tags it for the host's
        observers; `channel="sip"` also compiles the agents for a phone call (compile_config),
        and on "sip" and "twilio" a handoff to an agent with `transfer_to` transfers the call.
        `audio_format` (`audio/pcmu`: a Twilio stream) replaces every agent's
        input and output format, so audio goes in and out unconverted.
        `on_record(record, t)` / `on_event(direction, event, t)`: synchronous hooks on the
        event loop, for consumers that must see everything (keep them quick).
        `records=False`: no queue for `records()`, for a caller that follows the conversation
        through those hooks or observers; otherwise up to `record_queue` records wait there
        for a `records()` that may never come.
        """
        from .conversation import Conversation

        if self.tools is None:
            raise RuntimeError("the host is not open: use `async with Host(...) as host`")
        return Conversation(
            self,
            variables=dict(variables or {}),
            state_dir=state_dir,
            session_dir=session_dir,
            text=text,
            start=start,
            call_id=call_id,
            channel=channel,
            audio_format=audio_format,
            on_record=on_record,
            on_event=on_event,
            stop_setup=tuple(stop_setup),
            records=records,
        )

    def observe(self, observer: Observer) -> None:
        """Add an observer for the conversations opened from now on."""
        self.observers.append(observer)

    def run_after_call(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run post-call work on its own task: the call has ended, the host waits for it when closing."""
        import asyncio

        task = asyncio.get_running_loop().create_task(work)
        self.after_calls.add(task)
        task.add_done_callback(self.after_calls.discard)
        return task

    async def _finish_after_calls(self) -> None:
        """Give running post-call work `after_call_grace` seconds, then cancel it (it records that)."""
        import asyncio

        if not self.after_calls:
            return
        _, late = await asyncio.wait(set(self.after_calls), timeout=self.after_call_grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _claim(self) -> None:
        """Take a conversation slot, or refuse at once."""
        if self.open_count >= self.max_conversations:
            raise CapacityError(
                f"the host is at capacity: {self.open_count} of {self.max_conversations} conversations are open; try again when one ends"
            )
        self.open_count += 1

    def _release(self) -> None:
        self.open_count -= 1
