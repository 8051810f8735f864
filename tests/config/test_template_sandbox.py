"""Templates are user code: validate renders them as a session would, in a bounded sandbox.

Each probe is one agent whose instructions are a literal block scalar, so the problem
line is the template's line in the file (line 8 is the probe's line; a problem of the
whole output points at the template's first line, 7).
"""

from __future__ import annotations

import time

import pytest

from runner.compile import CompileError, compile_config
from runner.config import load, render_instructions

LIMIT = "would be longer than 200,000 characters"


def _agents_file(template: str, variables: str = "") -> str:
    return f"version: 1\nstart: a\n{variables}agents:\n  a:\n    description: A.\n    instructions: |\n      Hi.\n      {template}\n"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 1 / 0 }}", "division by zero"),
        ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe."),
        ("{% include 'other.txt' %}", "no loader for this environment specified"),
        ("{{ range(10**9) }}", "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)."),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "the template recurses too deeply (a macro or recursive loop that never stops?)"),
        ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", "the template recurses too deeply (a macro or recursive loop that never stops?)"),
        ("{{ '%999999999d' % 1 }}", f"a formatted value {LIMIT}"),
        ("{{ '{:999999999}'.format(1) }}", f"a formatted value {LIMIT}"),
        ("{{ 'x' * 10**9 }}", f"a repeated value {LIMIT}"),
        ("{{ 'x'|center(999999999) }}", f"the result of |center {LIMIT}"),
        ("{% set s = 'x' * 100000 %}{{ s ~ s ~ s }}", f"a joined text {LIMIT}"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "the template does too much work (more than 100,000 loop iterations and calls)"),
        ("{% set s = 'x' * 100000 %}{{ [s] * 3 }}", f"a repeated value {LIMIT}"),
        ("{% set s = 'x' * 100000 %}{% set l = [s, s, s] %}{{ l }}", f"a printed value {LIMIT}"),
        ("{% set s = 'x' * 100000 %}{% set l = [s, s, s] %}{{ l|string }}", f"the value of |string {LIMIT}"),
        ("{% set s = 'x' * 100000 %}{{ '%s' % ([s, s, s],) }}", f"a formatted value {LIMIT}"),
        ("{% set s = 'x' * 50000 %}{% set c %}{% for i in range(30) %}{{ s }}{% endfor %}{% endset %}", "the template prints more than 1,000,000 characters"),
        ("{% set s = 'x' * 100000 %}{{ [[s], [s], [s]]|sum(start=[])|length }}", f"the result of |sum {LIMIT}"),
        ("{% set s = 'x' * 100000 %}{{ s.translate({120: 'yyy'}) }}", f"the result of .translate() {LIMIT}"),
        ("{{ lipsum(10**6) }}", f"the result of lipsum() {LIMIT}"),
        ("{{ 2 ** 99999999 }}", "2 ** 99999999 is too large a number"),
        ("{% set l = [1] %}{{ l.append(2) }}", "access to attribute 'append' of 'list' object is unsafe."),
    ],
)
def test_validate_renders_with_the_sandbox_and_reports_the_line(text_lines, template, message):
    started = time.monotonic()
    assert text_lines(_agents_file(template)) == [f"8:7: agents.a.instructions: cannot render: {message}"]
    assert time.monotonic() - started < 2


def test_output_longer_than_the_bound_is_refused(text_lines):
    template = "{% for i in range(3000) %}{{ 'x' * 100 }}{% endfor %}"
    assert text_lines(_agents_file(template)) == [f"7:7: agents.a.instructions: cannot render: the rendered text {LIMIT}"]


def test_deeply_nested_parentheses_are_a_syntax_error_not_a_traceback(text_lines):
    nested = "(" * 100 + "1" + ")" * 100
    assert text_lines(_agents_file("{{ " + nested + " }}")) == ["7:7: agents.a.instructions: template syntax error: the template nests too deeply"]


def test_validate_renders_with_defaults_and_placeholders_for_required_variables(text_lines):
    variables = "variables:\n  seats: {type: integer, default: 0}\n  guests: {type: integer}\n"
    assert text_lines(_agents_file("{{ 100 / guests }}", variables)) == []
    assert text_lines(_agents_file("{{ 100 / seats }}", variables)) == ["11:7: agents.a.instructions: cannot render: division by zero"]


def test_ordinary_templates_still_render(write):
    config = load(str(write(_agents_file("{{ 'a' ~ 'b' }} {% for i in range(3) %}{{ i }}{% endfor %} {{ '%5d' % 3 }} {{ '{:>4}'.format('x') }} {{ 'y'|center(5) }} {{ [1, 2]|join(',') }} {{ range(100000)|sum }} {{ [[1], [2]]|sum(start=[]) }}")))).config
    assert render_instructions(config, "a", {}) == "Hi.\nab 012     3    x   y   1,2 4999950000 [1, 2]\n"


def test_compile_refuses_a_runaway_template_with_a_message(write):
    variables = "variables:\n  width: {type: integer}\n"
    config = load(str(write(_agents_file("{{ '%*d' % (width, 1) }}", variables)))).config
    assert compile_config(config, values={"width": 5})["a"].session["instructions"] == "Hi.\n    1\n"
    with pytest.raises(CompileError) as raised:
        compile_config(config, values={"width": 999999999})
    assert raised.value.messages == [f"agents.a.instructions: cannot render: a formatted value {LIMIT}"]
