"""The simulator stands apart from the runner it tests: it borrows none of the runner's
protocol knowledge, and its own modules import each other without a circle."""

from __future__ import annotations

import importlib
from pathlib import Path

import runner.sim
from tests.import_graph import circle, imports, internal_graph, package_modules

SIM = Path(runner.sim.__file__).parent
# What the simulator may take from the runner: shared vocabulary, not protocol behaviour.
# The audio formats table and the G.711 codec are arithmetic both sides need; the shape
# the simulator reports them in is checked against the SDK's types (tests/sim/test_audio.py).
ALLOWED_RUNNER_IMPORTS = {"runner.config.model", "runner.config.problems", "runner.audio.formats", "runner.audio.g711"}


def _runtime_imports(path: Path) -> set[str]:
    """Absolute module names `path` imports when it runs (not under `if TYPE_CHECKING:`)."""
    return imports(path, "runner.sim", type_checking=False)


def _modules() -> dict[str, Path]:
    return package_modules(SIM, "runner.sim")


def test_the_simulator_imports_nothing_of_the_runner_but_shared_vocabulary() -> None:
    borrowed = {
        (name, imported)
        for name, path in _modules().items()
        for imported in _runtime_imports(path)
        if imported.startswith("runner.") and not imported.startswith("runner.sim") and imported not in ALLOWED_RUNNER_IMPORTS
    }
    assert borrowed == set()


def test_no_module_of_the_simulator_is_in_an_import_circle() -> None:
    assert circle(internal_graph(_modules(), "runner.sim", type_checking=False)) is None


def test_each_module_of_the_simulator_imports_on_its_own() -> None:
    for name in _modules():
        importlib.import_module(name)
