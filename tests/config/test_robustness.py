"""`load` never raises, whatever the file holds: random bytes, random YAML, a mangled example."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.config import Problem, agents_schema, load
from runner.config.source import parse

EXAMPLE = Path(__file__).resolve().parents[2] / "agents.yaml"
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _schema_words() -> list[str]:
    words: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            words.update(k for k in node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
                if isinstance(value, str):
                    words.add(value)

    walk(agents_schema())
    return sorted(words)


WORDS = _schema_words() + ["router", "support", "tools.auth:authenticate_user", "{{ x }}", "${HOME}", "<<", "&a", "*a"]
scalars = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | st.sampled_from(WORDS) | st.text(max_size=12)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=6), inner, max_size=4), max_leaves=25)
yaml_tokens = st.sampled_from(WORDS + [":", ": ", "- ", "\n", "\n  ", "\n    ", "[", "]", "{", "}", ",", "'", '"', "|", ">", "#", "---", "!!str ", "&a ", "*a", "? ", "\t", "\\", "%YAML 1.1\n"])


def _assert_problems_are_well_formed(path: Path) -> None:
    result = load(str(path), import_code=False, environ={})
    for problem in result.problems:
        assert isinstance(problem, Problem)
        assert problem.line >= 1 and problem.col >= 1 and problem.message
        assert problem.format().startswith(f"{path}:")
    assert (result.config is None) == bool(result.errors)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes(tmp_path, raw):
    path = tmp_path / "agents.yaml"
    path.write_bytes(raw)
    _assert_problems_are_well_formed(path)


@FUZZ
@given(tokens=st.lists(yaml_tokens, max_size=60))
def test_random_yaml_like_text(tmp_path, tokens):
    path = tmp_path / "agents.yaml"
    path.write_text("".join(tokens), encoding="utf-8")
    _assert_problems_are_well_formed(path)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


EXAMPLE_DATA = parse(EXAMPLE.read_text(encoding="utf-8")).data
EXAMPLE_PATHS = [path for path in _paths(EXAMPLE_DATA) if path]


def _replaced(data, path, new):
    if not path:
        return new
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = _replaced(data[path[0]], path[1:], new)
    return copy


@FUZZ
@given(changes=st.lists(st.tuples(st.sampled_from(EXAMPLE_PATHS), values), min_size=1, max_size=3))
def test_the_example_with_random_parts_replaced(tmp_path, changes):
    data = EXAMPLE_DATA
    for path, new in changes:
        try:
            data = _replaced(data, path, new)
        except (KeyError, IndexError, TypeError):  # an earlier change removed this path
            continue
    path = tmp_path / "agents.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _assert_problems_are_well_formed(path)


@FUZZ
@given(data=st.dictionaries(st.sampled_from(WORDS), values, max_size=8))
def test_random_documents_built_from_the_schemas_words(tmp_path, data):
    path = tmp_path / "agents.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _assert_problems_are_well_formed(path)
