"""Tool execution: python and http bindings, argument validation, timeouts.

`runner validate` imports `runner.bindings.loader` within a wall-time budget, so this
package imports the executor (and jsonschema, httpx) only when one of its names is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from runner.bindings.loader import BindingError, load_callable

if TYPE_CHECKING:
    from runner.bindings.context import ToolContext
    from runner.bindings.executor import ToolExecutor, ToolResult
    from runner.bindings.setup import run_setup

_LAZY = {
    "ToolContext": "runner.bindings.context",
    "ToolExecutor": "runner.bindings.executor",
    "ToolResult": "runner.bindings.executor",
    "run_setup": "runner.bindings.setup",
}

__all__ = ["BindingError", "ToolContext", "ToolExecutor", "ToolResult", "load_callable", "run_setup"]


def __getattr__(name: str) -> Any:
    """Import on first use, then keep the name here: later imports of it find it without importlib."""
    if name in _LAZY:
        value = globals()[name] = getattr(importlib.import_module(_LAZY[name]), name)
        return value
    raise AttributeError(f"module 'runner.bindings' has no attribute {name!r}")
