"""Read a package's import graph from its source with `ast`, and find circles in it."""

from __future__ import annotations

import ast
from pathlib import Path


def package_modules(folder: Path, package: str) -> dict[str, Path]:
    """Each module of the package at `folder` by its dotted name (the package itself for `__init__`)."""
    return {package if path.stem == "__init__" else f"{package}.{path.stem}": path for path in sorted(folder.glob("*.py"))}


def imports(path: Path, package: str, *, type_checking: bool) -> set[str]:
    """Absolute module names `path` (a module of `package`) imports; those under
    `if TYPE_CHECKING:` only when `type_checking`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if type_checking else {
        id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING" for node in ast.walk(block)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split("."), *filter(None, [base])])
            found |= {f"{base}.{alias.name}" if base == package else base for alias in node.names}
    return found


def internal_graph(modules: dict[str, Path], package: str, *, type_checking: bool) -> dict[str, set[str]]:
    """Who imports whom among `modules`; the package's `__init__` re-exports, so nothing points at it."""
    graph = {name: {imported for imported in imports(path, package, type_checking=type_checking) if imported in modules and imported != name} for name, path in modules.items()}
    graph[package] = set()
    return graph


def circle(graph: dict[str, set[str]]) -> list[str] | None:
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
