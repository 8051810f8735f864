"""Prepare the state folder and run the config's setup hook before a session starts."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from runner.bindings.loader import BindingError, load_callable
from runner.config.model import Config

STATE_DIR_PARAMETER = "state_dir"


def run_setup(config: Config) -> None:
    """Create the state folder, then call `config.setup` if set.

    Nothing goes into process-wide state (no `os.environ`, no `sys.path`), so sessions
    with different state folders can share a process. A setup function that declares a
    `state_dir` parameter is given the folder (a `Path`); one without parameters is
    called without arguments. It must be a plain function: it runs before the
    session's event loop does its work (seeding a database, say).
    """
    try:
        config.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BindingError(f"cannot create the state folder {config.state_dir}: {exc.strerror}") from None
    if config.setup is None:
        return
    reference = f"{config.setup.module}:{config.setup.function}"
    try:
        function = load_callable(config.base_dir, config.setup.module, config.setup.function)
    except BindingError as exc:
        raise BindingError(f"setup {reference}: {exc}") from None
    if inspect.iscoroutinefunction(function):
        raise BindingError(f"setup {reference} is an async function; setup must be a plain function")
    arguments = {STATE_DIR_PARAMETER: config.state_dir} if _takes_state_dir(function) else {}
    try:
        function(**arguments)
    except Exception as exc:  # user code: report it, whatever it is
        raise BindingError(f"setup {reference} failed: {type(exc).__name__}: {exc}") from None


def _takes_state_dir(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    parameter = parameters.get(STATE_DIR_PARAMETER)
    return parameter is not None and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
