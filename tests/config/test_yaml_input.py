"""Reading the file: bytes, YAML syntax, duplicate keys, aliases, nesting; each refused with its place."""

from __future__ import annotations

from runner.config import load
from runner.config.source import MAX_DEPTH, parse


def test_syntax_error_is_located_with_its_context(fixture_lines):
    assert fixture_lines("syntax_error.yaml") == [
        "7:10: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 6)",
    ]


def test_duplicate_key_is_refused_at_the_second_with_the_line_of_the_first(fixture_lines):
    assert fixture_lines("duplicate_key.yaml") == [
        "7:3: agents.greeter: duplicate key 'greeter' (the first is at line 4)",
    ]


def test_duplicate_key_in_a_flow_mapping(text_lines):
    assert text_lines("version: 1\nstart: a\nagents: {a: {description: x, instructions: y}, a: {}}\n") == [
        "3:48: agents.a: duplicate key 'a' (the first is at line 3)",
    ]


def test_empty_file(fixture_lines):
    assert fixture_lines("empty.yaml") == ["1:1: the file is empty (an agents file starts with version: 1)"]


def test_file_with_only_comments_is_empty(fixture_lines):
    assert fixture_lines("comments_only.yaml") == ["1:1: the file is empty (an agents file starts with version: 1)"]


def test_top_level_must_be_a_mapping(fixture_lines, text_lines):
    expected = "1:1: the top level must be a mapping with keys such as version, start and agents"
    assert fixture_lines("top_level_list.yaml") == [expected]
    assert text_lines("just a sentence\n") == [expected]


def test_non_utf8_byte_is_located(fixture_lines):
    assert fixture_lines("not_utf8.yaml") == ["2:10: the file is not valid UTF-8 (byte 0xe9) (save it as UTF-8)"]


def test_control_character_is_located(tmp_path):
    path = tmp_path / "agents.yaml"
    path.write_bytes(b"version: 1\nname: a\x07b\n")
    assert [p.format() for p in load(str(path)).problems] == [
        f"{path}:2:8: invalid YAML: control characters are not allowed (character U+0007)",
    ]


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "agents.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\nstart: a\nagents:\n  a: {description: x, instructions: y}\n")
    assert load(str(path)).problems == []


def test_alias_bomb_is_refused_without_expanding_it(fixture_lines):
    assert fixture_lines("alias_bomb.yaml") == [
        "8:36: aliases expand this file to more than 1,000,000 values (is this an alias bomb?)",
    ]


def test_recursive_alias_is_refused(text_lines):
    assert text_lines("version: 1\nloop: &a [1, *a]\n") == ["2:14: alias '*a' refers to the value that contains it"]


def test_undefined_alias_is_refused(text_lines):
    assert text_lines("version: 1\nstart: *who\n") == ["2:8: undefined alias '*who' (define it first with &who)"]


def test_nesting_past_our_limit_is_refused_at_the_first_level_too_many(text_lines):
    # the top-level mapping is the first level, so the 64th bracket is one too many;
    # 200 levels stay below libyaml's own limit (1,000 in PyYAML 6.0.2+), so this is ours
    lines = text_lines("version: " + "[" * 200 + "]" * 200 + "\n")
    assert lines == [f"1:{9 + MAX_DEPTH}: the file is nested more than {MAX_DEPTH} levels deep"]


def test_very_deep_nesting_is_one_refusal_whichever_limit_fires_first(text_lines):
    # libyaml's scanner may refuse this before our builder sees the 64th level
    lines = text_lines("version: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert len(lines) == 1
    position, message = lines[0].split(": ", 1)
    assert message == f"the file is nested more than {MAX_DEPTH} levels deep"
    line, col = map(int, position.split(":"))
    assert line == 1 and 9 + MAX_DEPTH <= col <= 9 + 1_001


def test_more_than_one_document_is_refused(text_lines):
    assert text_lines("version: 1\n---\nversion: 1\n") == ["2:1: the file holds more than one YAML document (remove the second '---')"]


def test_unsupported_tag_is_reported(text_lines):
    lines = text_lines("version: 1\nstart: !!python/name:os.system greeter\nagents:\n  greeter: {description: x, instructions: y}\n")
    assert lines == ["2:8: start: unsupported YAML tag 'tag:yaml.org,2002:python/name:os.system' (remove the tag)"]


def test_a_mapping_key_must_be_plain(text_lines):
    lines = text_lines("version: 1\nstart: a\nagents:\n  a: {description: x, instructions: y}\n? [x]\n: 1\n")
    assert lines == ["5:3: a mapping key must be a plain value, not a list or mapping"]


def test_unreadable_path_is_a_problem_not_an_exception(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert [p.format() for p in load(str(missing)).problems] == [f"{missing}:1:1: cannot read the file: No such file or directory"]
    assert [p.format() for p in load(str(tmp_path)).problems] == [f"{tmp_path}:1:1: cannot read the file: Is a directory"]


def test_positions_of_keys_and_values_are_one_based():
    document = parse("version: 1\nagents:\n  router:\n    tools: [a, b]\n")
    assert document.position(("version",)) == (1, 10)
    assert document.position(("agents", "router"), key=True) == (3, 3)
    assert document.position(("agents", "router", "tools", 1)) == (4, 16)
    assert document.position(("agents", "router", "nothing", "here")) == (4, 5)


def test_aliases_and_merge_keys_give_plain_values():
    document = parse("base: &base {model: a, voice: b}\none:\n  <<: *base\n  voice: c\ntwo: *base\n")
    assert document.data == {"base": {"model": "a", "voice": "b"}, "one": {"voice": "c", "model": "a"}, "two": {"model": "a", "voice": "b"}}
    assert document.problems == []


def test_scalars_keep_yaml_types_but_dates_stay_text():
    document = parse("a: 3\nb: 2.5\nc: true\nd: ~\ne: 2024-01-01\nf: '7'\ng: .inf\n")
    assert document.data == {"a": 3, "b": 2.5, "c": True, "d": None, "e": "2024-01-01", "f": "7", "g": float("inf")}


def test_keys_keep_the_text_written():
    document = parse("yes: 1\n1: 2\nnull: 3\n")
    assert list(document.data) == ["yes", "1", "null"]


def test_a_big_file_without_aliases_is_refused_for_its_size_not_as_an_alias_bomb(text_lines):
    lines = text_lines("version: 1\nitems: [" + "0, " * 1_000_000 + "0]\n")
    assert lines == ["2:2999994: the file has more than 1,000,000 values"]
