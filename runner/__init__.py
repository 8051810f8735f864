"""runner: describe a team of voice agents in YAML and talk to it.

The embedding API (see the README's "Embedding" section): `load_project`, then a `Host`
with a transport, then `host.open(...)` per conversation. Names load on first use, so
`import runner` stays light (`runner validate` has a start-up budget).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.core.records import Record
    from runner.host.conversation import Conversation
    from runner.host.driver import AudioOut, Outcome
    from runner.host.errors import CapacityError, SetupError
    from runner.host.host import Host
    from runner.host.project import Project, ProjectError, load_project
    from runner.host.transports import MemoryTransport, OpenAITransport, SimulatorTransport

__version__ = "0.1.0"

_EXPORTS = {
    "load_project": "runner.host.project",
    "Project": "runner.host.project",
    "ProjectError": "runner.host.project",
    "Host": "runner.host.host",
    "Conversation": "runner.host.conversation",
    "CapacityError": "runner.host.errors",
    "SetupError": "runner.host.errors",
    "OpenAITransport": "runner.host.transports",
    "SimulatorTransport": "runner.host.transports",
    "MemoryTransport": "runner.host.transports",
    "Record": "runner.core.records",
    "Outcome": "runner.host.driver",
    "AudioOut": "runner.host.driver",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import on first use, then keep the name here: later imports of it find it without importlib."""
    if name in _EXPORTS:
        value = globals()[name] = getattr(importlib.import_module(_EXPORTS[name]), name)
        return value
    raise AttributeError(f"module 'runner' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
