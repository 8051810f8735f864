"""Import `module:attribute` references from a user's project folder.

Kept free of heavy imports: `runner validate` uses it within its wall-time budget.
"""

from __future__ import annotations

import difflib
import importlib
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_LISTED_NAMES = 8  # public names shown when nothing is close to a misspelt one


class BindingError(Exception):
    """A python binding that cannot be loaded or run; the message is meant for the user."""


def load_callable(base_dir: Path, module: str, attribute: str) -> Callable[..., Any]:
    """Import `module` with `base_dir` first on `sys.path` and return its callable `attribute`.

    A project's own top-level package wins over one of the same name imported earlier
    from another folder (two projects can both have a `tools` package), so it is evicted
    from `sys.modules` first.
    """
    if not _MODULE_NAME.fullmatch(module):
        raise BindingError(f"{module!r} is not a valid module name (expected dotted names like 'tools.auth')")
    if not _IDENTIFIER.fullmatch(attribute):
        raise BindingError(f"{attribute!r} is not a valid function name")
    base_dir = base_dir.resolve()
    loaded = _import_from(base_dir, module)
    reference = f"{module}:{attribute}"
    if not hasattr(loaded, attribute):
        raise BindingError(f"module {module!r} has no attribute {attribute!r}{_suggestion(loaded, attribute)}")
    target = getattr(loaded, attribute)
    if not callable(target):
        raise BindingError(f"{reference} is not a function (it is of type {type(target).__name__})")
    return target


def _import_from(base_dir: Path, module: str) -> ModuleType:
    top = module.partition(".")[0]
    if _defined_in(base_dir, top):
        _evict_if_foreign(base_dir, top)
    inserted = not sys.path or sys.path[0] != str(base_dir)
    if inserted:
        sys.path.insert(0, str(base_dir))
    importlib.invalidate_caches()
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            raise BindingError(f"module {module!r} not found: looked for {_candidate_files(base_dir, module)}") from None
        raise BindingError(_import_failure(base_dir, module, exc)) from None
    except (Exception, SystemExit) as exc:  # user code at import time can raise anything, even exit
        raise BindingError(_import_failure(base_dir, module, exc)) from None
    finally:
        if inserted:
            sys.path.remove(str(base_dir))


def _defined_in(base_dir: Path, top: str) -> bool:
    return (base_dir / f"{top}.py").is_file() or (base_dir / top).is_dir()


def _evict_if_foreign(base_dir: Path, top: str) -> None:
    """Drop `top` and its submodules from `sys.modules` when they came from another folder."""
    existing = sys.modules.get(top)
    if existing is None or base_dir in _import_roots(existing):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def _import_roots(module: ModuleType) -> set[Path]:
    """The `sys.path` folders a top-level module was found in."""
    package_dirs = getattr(module, "__path__", None)  # packages, namespace ones included
    if package_dirs:
        return {Path(p).resolve().parent for p in package_dirs}
    file = getattr(module, "__file__", None)
    return {Path(file).resolve().parent} if file else set()


def _candidate_files(base_dir: Path, module: str) -> str:
    stem = base_dir.joinpath(*module.split("."))
    return f"{stem}.py and {stem / '__init__.py'}"


def _import_failure(base_dir: Path, module: str, exc: BaseException) -> str:
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename)
        if path.is_absolute() and path.is_relative_to(base_dir):
            where = f" at {path.relative_to(base_dir)}:{frame.lineno}"
            break
    return f"importing module {module!r} failed{where}: {type(exc).__name__}: {exc}"


def _suggestion(module: ModuleType, attribute: str) -> str:
    public = sorted(n for n, v in vars(module).items() if not n.startswith("_") and callable(v))
    close = difflib.get_close_matches(attribute, public, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if public:
        shown = ", ".join(public[:_LISTED_NAMES]) + (", ..." if len(public) > _LISTED_NAMES else "")
        return f" (it defines: {shown})"
    return " (it defines no public functions)"
