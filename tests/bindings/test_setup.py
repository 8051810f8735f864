from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Callable

import pytest

from runner.bindings import BindingError, ToolContext, run_setup
from runner.bindings.loader import project_package
from runner.config.model import Config, PythonBinding

SETUP_MODULE = """
import os
import sys
from pathlib import Path

CALLS = []


def initialise(state_dir):
    (state_dir / "seeded.txt").write_text("yes")


def plain():
    CALLS.append((dict(os.environ), list(sys.path)))


def fail():
    raise RuntimeError("seed file tools/data/users.csv is missing")


async def later():
    pass
"""


@pytest.fixture
def setup_config(tmp_path: Path, write_project: Callable[..., Path], make_config: Callable[..., Config]) -> Callable[[str | None], Config]:
    root = write_project(tmp_path / "project", {"tools/__init__.py": "", "tools/db.py": SETUP_MODULE})

    def build(function: str | None) -> Config:
        setup = PythonBinding(module="tools.db", function=function) if function else None
        return dataclasses.replace(make_config(root, {}), state_dir=root / "state" / "nested", setup=setup)

    return build


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNNER_STATE_DIR", raising=False)


def test_the_state_folder_is_created_and_given_to_a_setup_that_asks_for_it(setup_config: Callable[[str | None], Config]) -> None:
    config = setup_config("initialise")
    run_setup(config)
    assert (config.state_dir / "seeded.txt").read_text() == "yes"


def test_a_setup_without_parameters_is_called_without_arguments(setup_config: Callable[[str | None], Config]) -> None:
    config = setup_config("plain")
    run_setup(config)
    run_setup(config)
    calls = sys.modules[f"{project_package(config.base_dir)}.tools.db"].CALLS
    assert len(calls) == 2 and config.state_dir.is_dir()


def test_setup_leaves_the_environment_and_sys_path_as_they_were(setup_config: Callable[[str | None], Config]) -> None:
    environment, path = dict(os.environ), list(sys.path)
    config = setup_config("plain")
    run_setup(config)
    seen_environment, seen_path = sys.modules[f"{project_package(config.base_dir)}.tools.db"].CALLS[-1]
    assert (seen_environment, seen_path) == (environment, path)
    assert (dict(os.environ), sys.path) == (environment, path)
    assert "RUNNER_STATE_DIR" not in os.environ


def test_without_setup_only_the_state_folder_is_prepared(setup_config: Callable[[str | None], Config]) -> None:
    environment = dict(os.environ)
    config = setup_config(None)
    run_setup(config)
    assert config.state_dir.is_dir() and dict(os.environ) == environment


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("fail", "setup tools.db:fail failed: RuntimeError: seed file tools/data/users.csv is missing"),
        ("initialize", "setup tools.db:initialize: module 'tools.db' has no attribute 'initialize' (did you mean 'initialise'?)"),
        ("later", "setup tools.db:later is an async function; setup must be a plain function"),
    ],
)
def test_setup_failures_are_binding_errors(function: str, message: str, setup_config: Callable[[str | None], Config]) -> None:
    with pytest.raises(BindingError) as raised:
        run_setup(setup_config(function))
    assert str(raised.value) == message


def test_an_uncreatable_state_folder_is_reported(tmp_path: Path, make_config: Callable[..., Config]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = dataclasses.replace(make_config(tmp_path, {}), state_dir=blocker / "state")
    with pytest.raises(BindingError) as raised:
        run_setup(config)
    assert str(raised.value) == f"cannot create the state folder {blocker / 'state'}: Not a directory"


def test_the_context_is_a_read_only_snapshot(tmp_path: Path) -> None:
    variables = {"company_name": "TechCorp"}
    transcript = [{"role": "user", "text": "hi"}]
    context = ToolContext("s", "router", variables, transcript, tmp_path)
    variables["company_name"] = "Globex"
    transcript.append({"role": "assistant", "text": "hello"})
    assert dict(context.variables) == {"company_name": "TechCorp"} and len(context.transcript) == 1
    with pytest.raises(TypeError):
        context.variables["company_name"] = "Initech"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.agent = "billing"  # type: ignore[misc]
