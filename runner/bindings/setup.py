"""Prepare the environment tool code runs in, once before a session starts."""

from __future__ import annotations

import inspect
import os

from runner.bindings.loader import BindingError, load_callable
from runner.config.model import Config


def run_setup(config: Config) -> None:
    """Create the state folder, export it as `RUNNER_STATE_DIR`, then call `config.setup` if set.

    The variable goes into this process's `os.environ`, where tool code reads it. The
    setup function is called without arguments and must be a plain function: it
    runs before the session's event loop does its work (seeding a database, say).
    """
    try:
        config.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BindingError(f"cannot create the state folder {config.state_dir}: {exc.strerror}") from None
    os.environ["RUNNER_STATE_DIR"] = str(config.state_dir)
    if config.setup is None:
        return
    reference = f"{config.setup.module}:{config.setup.function}"
    try:
        function = load_callable(config.base_dir, config.setup.module, config.setup.function)
    except BindingError as exc:
        raise BindingError(f"setup {reference}: {exc}") from None
    if inspect.iscoroutinefunction(function):
        raise BindingError(f"setup {reference} is an async function; setup must be a plain function")
    try:
        function()
    except Exception as exc:  # user code: report it, whatever it is
        raise BindingError(f"setup {reference} failed: {type(exc).__name__}: {exc}") from None
