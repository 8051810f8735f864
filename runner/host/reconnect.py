"""A conversation's socket across outages: dialling again, and the setup deadline of each socket.

The SDK's own reconnect is not used: this dials again and the core re-seeds the new
socket. Every socket must answer its `session.update` with `session.updated` within
`setup_timeout`; the attempts of one outage come from one budget (`delays`), reset only
once a socket is configured, so a server that accepts and then closes at once cannot
keep the conversation dialling forever.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from .errors import CallGone

RECONNECT_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # one outage's budget: reset once a socket is configured
SETUP_TIMEOUT = 10.0  # seconds a new socket has to confirm the session (like the handshake's own timeout)


class Dialler(Protocol):
    async def connect(self) -> None: ...
    async def close(self) -> None: ...


@dataclass(frozen=True)
class Redialled:
    """How an outage ended: a new socket, the call ended by the service, the budget spent, or none (the session ended)."""

    connected: bool = False
    call_ended: str | None = None  # the service's message: the call is over, not an outage
    failure: str | None = None  # why no socket could be had


class Reconnects:
    """The current socket's setup, the outage budget, and the count of reconnects."""

    def __init__(self, connection: Dialler, *, delays: Sequence[float], setup_timeout: float, now: Callable[[], float],
                 ended: asyncio.Event, notice: Callable[[str], None]) -> None:
        self._connection = connection
        self._delays = delays
        self.setup_timeout = setup_timeout
        self._now = now
        self._ended = ended
        self._notice = notice
        self.count = 0
        self._unconfirmed_since: float | None = None  # when the current socket opened, until it confirmed the session
        self._created_on_socket = False  # the current socket sent session.created
        self._attempts = 0  # attempts since a socket was last configured
        self._closed_unconfigured = False
        self._after = "the handshake"

    # ---- the current socket ------------------------------------------------------------

    def opened(self) -> None:
        """A socket was dialled: it has `setup_timeout` to confirm the session."""
        self._unconfirmed_since, self._created_on_socket = self._now(), False

    def confirmed(self) -> None:
        """session.updated (GPT-Live: session.started): this socket works, the outage is over."""
        self._unconfirmed_since = None
        self._attempts = 0

    def created(self) -> None:
        self._created_on_socket = True

    @property
    def setup_deadline(self) -> float | None:
        opened = self._unconfirmed_since
        return None if opened is None else opened + self.setup_timeout

    def setup_overdue(self) -> bool:
        opened = self._unconfirmed_since
        return opened is not None and self._now() - opened >= self.setup_timeout

    # ---- an outage -----------------------------------------------------------------------

    def lost(self) -> None:
        """The socket dropped: remember how far it got, for the message should the budget run out."""
        self._closed_unconfigured = self._unconfirmed_since is not None
        self._after = "session.created" if self._created_on_socket else "the handshake"
        self._unconfirmed_since = None

    async def redial(self, why: str) -> Redialled:
        """Dial again within the outage's budget, each attempt after its delay (none once the session ended)."""
        while self._attempts < len(self._delays):
            delay = self._delays[self._attempts]
            self._attempts += 1
            if await self._ends_within(delay):
                return Redialled()
            try:
                await self._connection.close()
                await self._connection.connect()
            except CallGone as gone:  # the service ended the call (SIP/WebRTC sideband)
                return Redialled(call_ended=str(gone))
            except Exception as failure:  # any other failure to dial is retried
                self._notice(f"reconnect failed: {failure}")
                self._closed_unconfigured = False
                continue
            self.count += 1
            self.opened()
            return Redialled(connected=True)
        if self._closed_unconfigured:
            return Redialled(failure=f"the server keeps closing the connection right after {self._after} ({why})")
        return Redialled(failure=f"could not reconnect after {len(self._delays)} attempts ({why})")

    async def _ends_within(self, seconds: float) -> bool:
        """Sleep, but wake up (True) if the session ends meanwhile."""
        try:
            await asyncio.wait_for(self._ended.wait(), seconds)
        except TimeoutError:
            return False
        return True
