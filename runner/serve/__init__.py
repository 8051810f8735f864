"""`runner serve`: an ASGI app hosting browser calls (WebRTC via the Realtime calls API)."""

from .app import create_app
from .calls import CallRefused, CallService

__all__ = ["CallRefused", "CallService", "create_app"]
