"""A project loaded once: its config, compiled agents and tool modules, shared by conversations.

Loading checks the file and imports the tool modules; the setup hook runs once, the first
time a host opens on the project. Everything per conversation (variables, state folder,
session id) is handed to `Host.open`, so one project serves any number of them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Mapping

from .errors import SetupError

if TYPE_CHECKING:
    from ..config.model import Config
    from ..config.problems import Problem

COMPILED_CACHE_SIZE = 64  # (modality, variables) combinations kept compiled per project


class ProjectError(SetupError):
    """The agents file cannot be loaded: `problems` holds every located error."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(problem.format() for problem in problems))


def load_project(
    path: str | os.PathLike[str], *, guardrails: bool = True, environ: Mapping[str, str] | None = None, target: str | None = None
) -> Project:
    """Load and check `path` (raises `ProjectError`) and import its tool modules; `target` overrides the file's."""
    from ..config import load

    result = load(path, environ=environ, target=target)
    if not result.ok():
        raise ProjectError(result.errors)
    assert result.config is not None  # no errors: the config was built
    return Project(result.config, guardrails=guardrails, environ=environ)


class Project:
    """A loaded config and what conversations on it share; treat it as immutable.

    `guardrails=False` (or ENABLE_GUARDRAILS=false in `environ`) turns the policies off.
    """

    def __init__(self, config: Config, *, guardrails: bool = True, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ: Mapping[str, str] = dict(os.environ if environ is None else environ)
        switch = self.environ.get("ENABLE_GUARDRAILS", "true").strip().lower()
        self.guardrails_enabled = guardrails and switch not in {"false", "0", "no", "off"}
        self._compiled: OrderedDict[str, tuple[dict[str, Any], dict[str, Any]]] = OrderedDict()
        self._set_up = False
        self._config_hash: str | None = None

    @property
    def config_hash(self) -> str:
        """The SHA-256 of the config file, read once: every report of the project names the file it ran."""
        if self._config_hash is None:
            self._config_hash = hashlib.sha256(self.config.path.read_bytes()).hexdigest()
        return self._config_hash

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def policies(self) -> Mapping[str, Any]:
        """The guardrail policies conversations apply (none when guardrails are off)."""
        return self.config.guardrails if self.guardrails_enabled else {}

    def agents(
        self, *, text: bool, variables: Mapping[str, Any], start: str | None, channel: str | None = None, audio_format: str | None = None,
        transfers_calls: bool = False,
    ) -> tuple[dict[str, Any], dict[str, Any], str]:
        """The compiled agents, resolved variables and start agent for one conversation (cached).

        `channel` and `audio_format` (`audio/pcmu` for Twilio: every agent's input and output
        format) and `transfers_calls` (the channel can put the caller through to a person): see compile_config.
        """
        from ..compile import CompileError, compile_config
        from ..config import resolve_variables

        if audio_format not in (None, "audio/pcm", "audio/pcmu", "audio/pcma"):
            raise SetupError(f"unknown audio format {audio_format!r}; expected audio/pcm, audio/pcmu or audio/pcma")
        values, problems = resolve_variables(self.config, variables)
        if problems:
            raise SetupError("; ".join(problems))
        key = json.dumps([text, channel, audio_format, transfers_calls, values], sort_keys=True, default=str)
        cached = self._compiled.get(key)
        if cached is None:
            modality = "text" if text else None
            try:
                compiled = compile_config(self.config, values=values, modality=modality, guardrails_enabled=self.guardrails_enabled, environ=self.environ,
                                           channel=channel, audio_format=audio_format, transfers_calls=transfers_calls)
            except CompileError as error:
                raise SetupError("; ".join(error.messages)) from None
            cached = self._compiled[key] = (compiled, values)
            if len(self._compiled) > COMPILED_CACHE_SIZE:
                self._compiled.popitem(last=False)
        else:
            self._compiled.move_to_end(key)
        compiled, values = cached
        chosen = start or self.config.start
        if chosen not in compiled:
            raise SetupError(f"no agent named {chosen!r} to start with")
        return compiled, values, chosen

    def set_up(self) -> None:
        """Create the state folder and run the config's setup hook, once per project."""
        from ..bindings import BindingError, run_setup

        if self._set_up:
            return
        try:
            run_setup(self.config)
        except BindingError as error:
            raise SetupError(f"setup: {error}") from None
        self._set_up = True
