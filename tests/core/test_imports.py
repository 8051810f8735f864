"""The core's modules import each other without a circle, counting imports made only for type
checking too: each component stands on the ones below it, and none reaches back to the session."""

from __future__ import annotations

from pathlib import Path

import runner.core
from tests.import_graph import circle, imports, internal_graph, package_modules

CORE = Path(runner.core.__file__).parent
# Beyond itself, the sans-I/O core needs only the config's vocabulary (and, for type hints, the compiler's output).
ALLOWED_OUTSIDE = {"runner.config.model", "runner.compile"}


def _imports(path: Path) -> set[str]:
    """The runner modules `path` imports, under `if TYPE_CHECKING:` as well."""
    return {name for name in imports(path, "runner.core", type_checking=True) if name == "runner" or name.startswith("runner.")}


def _modules() -> dict[str, Path]:
    return package_modules(CORE, "runner.core")


def test_no_module_of_the_core_is_in_an_import_circle() -> None:
    assert circle(internal_graph(_modules(), "runner.core", type_checking=True)) is None


def test_no_component_imports_the_session() -> None:
    importers = {name for name, path in _modules().items() if "runner.core.session" in _imports(path)}
    assert importers == {"runner.core"}


def test_the_core_imports_nothing_of_the_host_the_terminal_or_the_simulator() -> None:
    outside = {(name, imported) for name, path in _modules().items() for imported in _imports(path)
               if not imported.startswith("runner.core") and imported not in ALLOWED_OUTSIDE}
    assert outside == set()


def test_the_circle_finder_finds_a_circle() -> None:
    assert circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) in (["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"])


def test_the_session_stays_a_coordinator_under_400_lines() -> None:
    """Features live in components (their handlers and timers joined by the session), not in session.py."""
    lines = (CORE / "session.py").read_text(encoding="utf-8").count("\n")
    assert lines < 400, f"runner/core/session.py has {lines} lines"
