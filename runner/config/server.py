"""The `server:` section -> `ServerSettings`, with the checks the schema cannot express."""

from __future__ import annotations

import re
from typing import Any, Callable

from .model import ServerSettings
from .report import Reporter
from .source import PathKey

_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def origin_problem(origin: str) -> str | None:
    """Why `origin` cannot be on the CORS allow-list, or None: exact origins only, never a wildcard."""
    if origin == "*":
        return "'*' would allow every site: list the origins, e.g. https://app.example.com"
    if not _ORIGIN.match(origin):
        return f"{origin!r} is not an origin: write scheme://host[:port] with no path, e.g. https://app.example.com"
    return None


def build_server(data: dict[str, Any], reporter: Reporter, ok: Callable[[PathKey], bool]) -> ServerSettings:
    """The section's settings (defaults for what is absent or broken); CORS without a valid allow-list is an error."""
    raw = data.get("server")
    if not isinstance(raw, dict) or not ok(("server",)):
        return ServerSettings()
    known = {key: value for key, value in raw.items() if key in ServerSettings.__dataclass_fields__ and key != "spans"}
    origins = tuple(known.pop("cors_origins", ()))
    for index, origin in enumerate(origins):
        problem = origin_problem(origin)
        if problem is not None:
            reporter.error(("server", "cors_origins", index), problem)
    if known.get("cors") and not origins:
        reporter.error(("server", "cors"), "cors is on but cors_origins is empty", "list the origins allowed to call this server")
    if "drain_timeout" in known:
        known["drain_timeout"] = float(known["drain_timeout"])
    spans = {key: reporter.span(("server", key)) for key in raw}
    return ServerSettings(**known, cors_origins=origins, spans=spans)
