"""What can go wrong with a connection, apart from any one transport."""

from __future__ import annotations


class ConnectionLost(Exception):
    """The socket closed without us asking; the driver may reconnect."""


class BadFrame(Exception):
    """The server sent something that is not a JSON event object; the session cannot go on."""


class ConnectFailed(Exception):
    """The socket could not be opened; the message names the URL and why."""


class CallGone(ConnectFailed):
    """The call a sideband joins by `call_id` is over (the service answered 404): there is nothing to reconnect to."""


CALL_ENDED = "call ended"  # the end reason of a conversation whose call the service ended


class SetupError(Exception):
    """A conversation cannot start; the message is meant for the user, one line."""


class CapacityError(Exception):
    """The host already holds its maximum of open conversations; the new one is refused."""
