"""A fresh clone must stay green when a dependency releases: every declared dependency is
bounded above, pinned in requirements.lock within its range, and installed at that pin."""

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKED_EXTRAS = ("dev", "serve")  # installed by the README's commands; `bench` and `pipecat` pin their peers themselves


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _declared() -> list[Requirement]:
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for extra in LOCKED_EXTRAS:
        specs += project["optional-dependencies"][extra]
    return [Requirement(spec) for spec in specs]


def _has_upper_bound(requirement: Requirement) -> bool:
    return any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier)


@pytest.mark.parametrize("spec", PYPROJECT["build-system"]["requires"] + [str(r) for r in _declared()])
def test_every_dependency_is_bounded_above(spec):
    assert _has_upper_bound(Requirement(spec)), f"{spec} has no upper bound"


@pytest.mark.parametrize("requirement", _declared(), ids=str)
def test_every_dependency_is_locked_inside_its_range(requirement):
    pins = _lock()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{requirement.name} is not in requirements.lock"
    assert requirement.specifier.contains(pins[name]), f"requirements.lock pins {name}=={pins[name]}, outside {requirement.specifier}"


@pytest.mark.parametrize("requirement", _declared(), ids=str)
def test_the_installed_version_is_the_locked_one(requirement):
    name = canonicalize_name(requirement.name)
    assert metadata.version(requirement.name) == _lock()[name]
