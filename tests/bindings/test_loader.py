from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from runner.bindings.loader import BindingError, load_callable, project_package


def test_loads_a_function_from_the_project_folder(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(tmp_path, {"tools/__init__.py": "", "tools/auth.py": "def authenticate_user(phone):\n    return phone[-4:]\n"})
    authenticate = load_callable(root, "tools.auth", "authenticate_user")
    assert authenticate("(555) 123-4567") == "4567"


def test_two_projects_with_the_same_package_name_each_get_their_own_files(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    files = {"tools/__init__.py": "", "tools/who.py": "from .helpers import NAME\ndef who():\n    return NAME\n"}
    first = write_project(tmp_path / "first", {**files, "tools/helpers.py": "NAME = 'first'\n"})
    second = write_project(tmp_path / "second", {**files, "tools/helpers.py": "NAME = 'second'\n"})
    bare_before = {name: module for name, module in sys.modules.items() if name.partition(".")[0] == "tools"}
    first_who = load_callable(first, "tools.who", "who")
    second_who = load_callable(second, "tools.who", "who")
    assert (first_who(), second_who(), load_callable(first, "tools.who", "who")()) == ("first", "second", "first")
    assert Path(sys.modules[f"{project_package(first)}.tools.helpers"].__file__) == first / "tools" / "helpers.py"
    assert Path(sys.modules[f"{project_package(second)}.tools.helpers"].__file__) == second / "tools" / "helpers.py"
    assert {name: module for name, module in sys.modules.items() if name.partition(".")[0] == "tools"} == bare_before


def test_a_project_module_is_imported_once_however_often_it_is_loaded(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    log = tmp_path / "imports.log"
    counting = f"from pathlib import Path\nwith Path({str(log)!r}).open('a') as log:\n    log.write('imported\\n')\ndef f():\n    return 1\n"
    root = write_project(tmp_path / "project", {"tools/__init__.py": "", "tools/counted.py": counting})
    functions = {load_callable(root, "tools.counted", "f") for _ in range(3)}
    assert len(functions) == 1 and log.read_text() == "imported\n"


def test_an_absolute_import_of_the_projects_own_package_is_explained(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    files = {"desk_tools/__init__.py": "", "desk_tools/helpers.py": "NAME = 1\n", "desk_tools/who.py": "from desk_tools.helpers import NAME\n"}
    root = write_project(tmp_path, files)
    with pytest.raises(BindingError) as raised:
        load_callable(root, "desk_tools.who", "who")
    assert str(raised.value) == (
        "importing module 'desk_tools.who' failed at desk_tools/who.py:1: ModuleNotFoundError: No module named 'desk_tools'"
        " (inside the project, import its own modules relatively, e.g. 'from .db import connect')"
    )


def test_a_single_file_module_is_found_too(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(tmp_path, {"greetings.py": "def hello():\n    return 'hi'\n"})
    assert load_callable(root, "greetings", "hello")() == "hi"


def test_sys_path_is_never_changed_not_even_while_importing(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(tmp_path, {"tools/__init__.py": "", "tools/auth.py": "import sys\nSEEN = list(sys.path)\ndef f():\n    pass\n"})
    before = list(sys.path)
    load_callable(root, "tools.auth", "f")
    assert sys.modules[f"{project_package(root)}.tools.auth"].SEEN == before
    assert sys.path == before


def test_a_missing_module_names_the_files_looked_for(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(tmp_path, {"tools/__init__.py": ""})
    with pytest.raises(BindingError) as raised:
        load_callable(root, "tools.auht", "authenticate_user")
    assert str(raised.value) == f"module 'tools.auht' not found: looked for {root}/tools/auht.py and {root}/tools/auht/__init__.py"


def test_a_missing_package_names_the_files_looked_for(tmp_path: Path) -> None:
    with pytest.raises(BindingError) as raised:
        load_callable(tmp_path, "nowhere_pkg.auth", "f")
    assert str(raised.value) == f"module 'nowhere_pkg.auth' not found: looked for {tmp_path}/nowhere_pkg/auth.py and {tmp_path}/nowhere_pkg/auth/__init__.py"


def test_an_exception_while_importing_names_its_type_message_and_line(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(tmp_path, {"tools/__init__.py": "", "tools/broken.py": "RATE = 1\nRATIO = RATE / 0\n"})
    with pytest.raises(BindingError) as raised:
        load_callable(root, "tools.broken", "f")
    assert str(raised.value) == "importing module 'tools.broken' failed at tools/broken.py:2: ZeroDivisionError: division by zero"


def test_a_missing_dependency_of_the_module_is_an_import_failure_not_a_missing_module(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(tmp_path, {"tools/__init__.py": "", "tools/needs.py": "import no_such_dependency_xyz\n"})
    with pytest.raises(BindingError) as raised:
        load_callable(root, "tools.needs", "f")
    assert str(raised.value) == (
        "importing module 'tools.needs' failed at tools/needs.py:1: ModuleNotFoundError: No module named 'no_such_dependency_xyz'"
    )


def test_a_syntax_error_is_reported_with_its_place(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(tmp_path, {"tools/__init__.py": "", "tools/typo.py": "def f(:\n    pass\n"})
    with pytest.raises(BindingError) as raised:
        load_callable(root, "tools.typo", "f")
    assert str(raised.value).startswith("importing module 'tools.typo' failed")
    assert "SyntaxError" in str(raised.value) and "typo.py, line 1" in str(raised.value)


def test_a_misspelt_function_gets_a_suggestion(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(
        tmp_path, {"tools/__init__.py": "", "tools/auth.py": "def authenticate_user():\n    pass\ndef lookup_user_profile():\n    pass\n"}
    )
    with pytest.raises(BindingError) as raised:
        load_callable(root, "tools.auth", "authenticat_user")
    assert str(raised.value) == "module 'tools.auth' has no attribute 'authenticat_user' (did you mean 'authenticate_user'?)"


def test_a_function_unlike_any_lists_what_the_module_defines(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(tmp_path, {"tools/__init__.py": "", "tools/auth.py": "def login():\n    pass\ndef logout():\n    pass\ndef _private():\n    pass\n"})
    with pytest.raises(BindingError) as raised:
        load_callable(root, "tools.auth", "refund")
    assert str(raised.value) == "module 'tools.auth' has no attribute 'refund' (it defines: login, logout)"


def test_something_that_is_not_callable_is_refused(tmp_path: Path, write_project: Callable[..., Path]) -> None:
    root = write_project(tmp_path, {"tools/__init__.py": "", "tools/auth.py": "LIMIT = 3\n"})
    with pytest.raises(BindingError) as raised:
        load_callable(root, "tools.auth", "LIMIT")
    assert str(raised.value) == "tools.auth:LIMIT is not a function (it is of type int)"


@pytest.mark.parametrize(
    ("module", "attribute", "message"),
    [
        ("tools..auth", "f", "'tools..auth' is not a valid module name (expected dotted names like 'tools.auth')"),
        ("tools/auth.py", "f", "'tools/auth.py' is not a valid module name (expected dotted names like 'tools.auth')"),
        ("tools.auth", "f()", "'f()' is not a valid function name"),
    ],
)
def test_malformed_references_are_refused(tmp_path: Path, module: str, attribute: str, message: str) -> None:
    with pytest.raises(BindingError) as raised:
        load_callable(tmp_path, module, attribute)
    assert str(raised.value) == message


def test_importing_the_loader_does_not_pull_in_heavy_libraries() -> None:
    code = "import sys, runner.bindings.loader; print(sorted(m for m in ('jsonschema', 'httpx', 'jinja2', 'openai') if m in sys.modules))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"


def test_a_module_that_exits_while_importing_is_a_binding_error_not_an_exit(tmp_path):
    package = tmp_path / "exiting_tools"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "quits.py").write_text("import sys\nsys.exit(3)\n")
    with pytest.raises(BindingError) as raised:
        load_callable(tmp_path, "exiting_tools.quits", "anything")
    assert "SystemExit" in str(raised.value)
