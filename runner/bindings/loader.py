"""Import `module:attribute` references from a user's project folder.

A project's own modules (those whose top-level name is a file or folder next to the
config) are imported once per project under a package name of their own,
`_runner_project_<hash of the folder>`: `tools.auth` of one project and `tools.auth`
of another are different modules, `sys.path` is never touched, and nothing is put in
`sys.modules` under the bare `tools` name. Inside a project, modules reach each other
with relative imports (`from .db import connect`); an absolute `import tools.db` looks
outside the project. A reference whose top-level name the folder does not define is an
ordinary import of an installed module.

Kept free of heavy imports: `runner validate` uses it within its wall-time budget.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import re
import sys
import threading
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_LISTED_NAMES = 8  # public names shown when nothing is close to a misspelt one
PROJECT_PACKAGE_PREFIX = "_runner_project_"

_project_packages_lock = threading.Lock()


class BindingError(Exception):
    """A python binding that cannot be loaded or run; the message is meant for the user."""


def load_callable(base_dir: Path, module: str, attribute: str) -> Callable[..., Any]:
    """Import `module` from the project in `base_dir` (once) and return its callable `attribute`."""
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


def project_package(base_dir: Path) -> str:
    """The package name the modules of the project in `base_dir` are imported under."""
    digest = hashlib.sha256(str(base_dir.resolve()).encode()).hexdigest()[:16]
    return f"{PROJECT_PACKAGE_PREFIX}{digest}"


def _import_from(base_dir: Path, module: str) -> ModuleType:
    top = module.partition(".")[0]
    local = _defined_in(base_dir, top)
    package = _ensure_project_package(base_dir) if local else None
    qualified = f"{package}.{module}" if package else module
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (qualified == exc.name or qualified.startswith(exc.name + ".")):
            raise BindingError(f"module {module!r} not found: looked for {_candidate_files(base_dir, module)}") from None
        raise BindingError(_import_failure(base_dir, module, exc, package)) from None
    except (Exception, SystemExit) as exc:  # user code at import time can raise anything, even exit
        raise BindingError(_import_failure(base_dir, module, exc, package)) from None


def _ensure_project_package(base_dir: Path) -> str:
    """Register (once) an empty package whose search path is just the project folder."""
    name = project_package(base_dir)
    with _project_packages_lock:
        if name not in sys.modules:
            spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
            assert spec is not None and spec.submodule_search_locations is not None
            spec.submodule_search_locations.append(str(base_dir))
            package = importlib.util.module_from_spec(spec)
            package.__doc__ = f"The python modules of the runner project in {base_dir}."
            sys.modules[name] = package
    return name


def _defined_in(base_dir: Path, top: str) -> bool:
    return (base_dir / f"{top}.py").is_file() or (base_dir / top).is_dir()


def _candidate_files(base_dir: Path, module: str) -> str:
    stem = base_dir.joinpath(*module.split("."))
    return f"{stem}.py and {stem / '__init__.py'}"


def _import_failure(base_dir: Path, module: str, exc: BaseException, package: str | None) -> str:
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename)
        if path.is_absolute() and path.is_relative_to(base_dir):
            where = f" at {path.relative_to(base_dir)}:{frame.lineno}"
            break
    message = str(exc).replace(f"{package}.", "") if package else str(exc)
    hint = ""
    if isinstance(exc, ModuleNotFoundError) and exc.name is not None and _defined_in(base_dir, exc.name.partition(".")[0]):
        hint = " (inside the project, import its own modules relatively, e.g. 'from .db import connect')"
    return f"importing module {module!r} failed{where}: {type(exc).__name__}: {message}{hint}"


def _suggestion(module: ModuleType, attribute: str) -> str:
    public = sorted(n for n, v in vars(module).items() if not n.startswith("_") and callable(v))
    close = difflib.get_close_matches(attribute, public, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if public:
        shown = ", ".join(public[:_LISTED_NAMES]) + (", ..." if len(public) > _LISTED_NAMES else "")
        return f" (it defines: {shown})"
    return " (it defines no public functions)"
