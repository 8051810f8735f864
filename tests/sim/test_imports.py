"""The simulator stands apart from the runner it tests: it borrows none of the runner's
protocol knowledge, and its own modules import each other without a circle."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import runner.sim

SIM = Path(runner.sim.__file__).parent
# What the simulator may take from the runner: shared vocabulary, not protocol behaviour.
# The audio formats table and the G.711 codec are arithmetic both sides need; the shape
# the simulator reports them in is checked against the SDK's types (tests/sim/test_audio.py).
ALLOWED_RUNNER_IMPORTS = {"runner.config.model", "runner.config.problems", "runner.audio.formats", "runner.audio.g711"}


def _runtime_imports(path: Path) -> set[str]:
    """Absolute module names `path` imports when it runs (not under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_checking = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING" for node in ast.walk(block)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(["runner", "sim", *filter(None, [base])])
            found |= {f"{base}.{alias.name}" if base == "runner.sim" else base for alias in node.names}
    return found


def _modules() -> dict[str, Path]:
    return {f"runner.sim.{path.stem}" if path.stem != "__init__" else "runner.sim": path for path in sorted(SIM.rglob("*.py"))}


def test_the_simulator_imports_nothing_of_the_runner_but_shared_vocabulary() -> None:
    borrowed = {
        (name, imported)
        for name, path in _modules().items()
        for imported in _runtime_imports(path)
        if imported.startswith("runner.") and not imported.startswith("runner.sim") and imported not in ALLOWED_RUNNER_IMPORTS
    }
    assert borrowed == set()


def test_no_module_of_the_simulator_is_in_an_import_circle() -> None:
    modules = _modules()
    graph = {name: {imported for imported in _runtime_imports(path) if imported in modules and imported != name} for name, path in modules.items()}
    graph["runner.sim"] = set()  # the package's own __init__ re-exports; its parts never import it

    def circle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for following in graph[node]:
                if following == start:
                    return [*trail, start]
                if following not in trail:
                    stack.append((following, [*trail, following]))
        return None

    assert {name: circle_from(name) for name in graph if circle_from(name)} == {}


def test_each_module_of_the_simulator_imports_on_its_own() -> None:
    for name in _modules():
        importlib.import_module(name)
