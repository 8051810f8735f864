"""The core's modules import each other without a circle, counting imports made only for type
checking too: each component stands on the ones below it, and none reaches back to the session."""

from __future__ import annotations

import ast
from pathlib import Path

import runner.core

CORE = Path(runner.core.__file__).parent
# Beyond itself, the sans-I/O core needs only the config's vocabulary (and, for type hints, the compiler's output).
ALLOWED_OUTSIDE = {"runner.config.model", "runner.compile"}


def _imports(path: Path) -> set[str]:
    """Absolute names of the runner modules `path` imports, under `if TYPE_CHECKING:` as well."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(["runner", "core", *filter(None, [base])])
            found |= {f"{base}.{alias.name}" if base == "runner.core" else base for alias in node.names}
    return {name for name in found if name == "runner" or name.startswith("runner.")}


def _modules() -> dict[str, Path]:
    return {"runner.core" if path.stem == "__init__" else f"runner.core.{path.stem}": path for path in sorted(CORE.glob("*.py"))}


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph`, as the modules along it, or None."""
    for start in graph:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for following in graph[node]:
                if following == start:
                    return [*trail, start]
                if following not in trail:
                    stack.append((following, [*trail, following]))
    return None


def test_no_module_of_the_core_is_in_an_import_circle() -> None:
    modules = _modules()
    graph = {name: {imported for imported in _imports(path) if imported in modules and imported != name} for name, path in modules.items()}
    graph["runner.core"] = set()  # the package re-exports; its parts never import it
    assert _circle(graph) is None


def test_no_component_imports_the_session() -> None:
    importers = {name for name, path in _modules().items() if "runner.core.session" in _imports(path)}
    assert importers == {"runner.core"}


def test_the_core_imports_nothing_of_the_host_the_terminal_or_the_simulator() -> None:
    outside = {(name, imported) for name, path in _modules().items() for imported in _imports(path)
               if not imported.startswith("runner.core") and imported not in ALLOWED_OUTSIDE}
    assert outside == set()


def test_the_circle_finder_finds_a_circle() -> None:
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) in (["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"])
