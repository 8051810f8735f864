"""What one conversation keeps within bounds: the records waiting for its consumer, and its tool calls.

Neither may become a brake on the conversation or grow without limit: a slow records()
consumer loses the oldest records (and is told how many), a flood of tool calls gets
error outputs past twice the concurrency cap.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
from typing import Any, AsyncIterator, Callable

from ..core.records import Notice, Record

logger = logging.getLogger(__name__)

# The conversation a tool call runs for, so the host's shared executor's tracebacks reach its event log.
tool_log: contextvars.ContextVar[Callable[[str], None]] = contextvars.ContextVar("tool_log", default=lambda line: logger.error("%s", line.rstrip()))


class RecordQueue:
    """Records waiting for `Conversation.records()`: bounded, and never a brake on the conversation.

    When full, the oldest record is dropped; the consumer's next record is then a
    `notice` saying how many it missed. The artifacts (transcript, events, report) are
    written from the hooks, so they stay complete whatever the consumer does. A size of 0
    keeps nothing: the conversation was opened with `records=False`.
    """

    def __init__(self, size: int) -> None:
        self._records: collections.deque[Record] = collections.deque()
        self._size = size
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def put(self, record: Record) -> None:
        if not self._size:
            return
        if len(self._records) >= self._size:
            self._records.popleft()
            self.dropped += 1
        self._records.append(record)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    async def __aiter__(self) -> AsyncIterator[Record]:
        if not self._size:
            raise RuntimeError("this conversation was opened with records=False: follow it with on_record or an observer")
        while True:
            if self.dropped:
                missed, self.dropped = self.dropped, 0
                yield Notice(f"{missed} records dropped: the records() consumer fell behind (it holds at most {self._size})")
            elif self._records:
                yield self._records.popleft()
            elif self._closed:
                return
            else:
                self._ready.clear()
                await self._ready.wait()


class ConversationTools:
    """The host's shared executor, seen by one conversation: a cap on its concurrent calls.

    At most `limit` calls run at once and as many wait; a call past that gets an error
    output at once, so a flood of calls cannot pile up without bound.
    """

    def __init__(self, executor: Any, limit: int, log: Callable[[str], None]) -> None:
        self._executor = executor
        self._limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._pending = 0
        self._log = log

    async def run(self, name: str, arguments: str, *, call_id: str, agent: str, context: Any) -> Any:
        if self._pending >= 2 * self._limit:
            from ..bindings import ToolResult
            from ..bindings.output import error_output

            message = f"{name} cannot start: {self._pending} tool calls are already running or waiting in this conversation; try again later"
            return ToolResult(error_output("too_many_tool_calls", message), "too many tool calls at once", 0.0)
        self._pending += 1
        try:
            async with self._slots:
                token = tool_log.set(self._log)
                try:
                    return await self._executor.run(name, arguments, call_id=call_id, agent=agent, context=context)
                finally:
                    tool_log.reset(token)
        finally:
            self._pending -= 1
