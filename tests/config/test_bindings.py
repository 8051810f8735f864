"""Tool bindings: python functions imported and compared with their parameters; http and mcp targets."""

from __future__ import annotations

import sys
from pathlib import Path

from runner.config import interpolate_env, load

PROJECT = Path(__file__).parent / "fixtures" / "python_project"


def test_python_binding_problems(fixture_lines):
    handlers = PROJECT / "handlers"
    assert fixture_lines("python_project/agents.yaml") == [
        f"21:13: tools.missing_module.python: module 'handlers.nowhere' not found: looked for {handlers}/nowhere.py and {handlers}/nowhere/__init__.py",
        "24:13: tools.missing_function.python: module 'handlers.calls' has no attribute 'greeet' (did you mean 'greet'?)",
        "27:13: tools.not_callable.python: handlers.calls:GREETING is not a function (it is of type str)",
        "33:9: tools.needs_more.parameters.properties.city: warning: 'city' is optional here, but handlers.calls:forecast requires it (add it to required)",
        "35:13: tools.needs_more.python: handlers.calls:forecast requires 'days', which the parameters do not declare (declare it under parameters.properties)",
        "43:9: tools.takes_less.parameters.properties.mood: handlers.calls:greet does not accept 'mood'",
        "49:13: tools.broken_import.python: importing module 'handlers.explodes' failed at handlers/explodes.py:4: KeyError: 'timeout'",
        "75:13: tools.positional.python: handlers.calls:positional_only has positional-only parameter 'value', but arguments are passed by name",
    ]


def test_no_import_skips_user_code(fixture_lines):
    before = set(sys.modules)
    assert fixture_lines("python_project/agents.yaml", import_code=False) == []
    assert not any(name.startswith("handlers") for name in set(sys.modules) - before)


def test_broken_setup_hook_is_reported(write):
    path = write("version: 1\nstart: a\nsetup: nothing_here:prepare\nagents:\n  a: {description: x, instructions: y}\n")
    lines = [p.format() for p in load(str(path)).problems]
    folder = path.parent
    assert lines == [f"{path}:3:8: setup: module 'nothing_here' not found: looked for {folder}/nothing_here.py and {folder}/nothing_here/__init__.py"]


def test_python_binding_must_name_module_and_function(text_lines, minimal):
    text = minimal.replace("Say hello.\n", "Say hello.\n    tools: [t]\n") + "tools:\n  t: {description: x, python: tools.auth}\n"
    assert text_lines(text) == [
        "9:31: tools.t.python: 'tools.auth' is not valid: a python binding is written module:function, e.g. tools.auth:authenticate_user",
    ]


def test_tool_without_binding_or_description(text_lines, minimal):
    text = minimal.replace("Say hello.\n", "Say hello.\n    tools: [a, b]\n") + "tools:\n  a: {description: x}\n  b: {python: m:f}\n"
    assert text_lines(text, import_code=False) == [
        "9:3: tools.a: a tool needs a binding: add python, http or mcp",
        "10:3: tools.b: missing required key 'description' (the model reads it to decide when to call the tool)",
    ]


def test_http_and_mcp_binding_problems(fixture_lines):
    assert fixture_lines("http_mcp.yaml", import_code=False, environ={}) == [
        "19:12: tools.order_status.http.url: '{{ order }}' is not a parameter of this tool (did you mean 'order_id'?)",
        "21:24: tools.order_status.http.headers.Authorization: warning: environment variable 'RUNNER_TEST_UNSET_TOKEN' is not set "
        "(it must be set when the runner runs)",
        "25:12: tools.weather.http.url: invalid URL 'htp//weather.example.com/today': it must start with http:// or https://",
        "28:19: tools.docs.mcp.server_url: warning: environment variable 'RUNNER_TEST_UNSET_MCP_URL' is not set (it must be set when the runner runs)",
        "32:5: tools.broken.http: a tool takes exactly one binding, but this one has python and http",
    ]


def test_environment_values_are_used_to_check_urls(fixture_lines):
    environ = {"RUNNER_TEST_UNSET_TOKEN": "secret", "RUNNER_TEST_UNSET_MCP_URL": "https://"}
    lines = fixture_lines("http_mcp.yaml", import_code=False, environ=environ)
    assert "28:19: tools.docs.mcp.server_url: invalid URL 'https:///mcp': it has no host" in lines
    assert not any("warning" in line for line in lines)


def test_http_body_templates_and_get_with_body(text_lines, minimal):
    text = minimal.replace("Say hello.\n", "Say hello.\n    tools: [t]\n") + (
        "tools:\n  t:\n    description: x\n    parameters:\n      type: object\n      properties:\n        q: {type: string}\n"
        "    http:\n      method: GET\n      url: https://example.com/search\n      body:\n        query: '{{ q }}'\n        page: ['{{ pge }}']\n"
    )
    assert text_lines(text) == [
        "18:7: tools.t.http.body: a GET request has no body (use POST, PUT or PATCH, or put the arguments in the url)",
        "20:16: tools.t.http.body.page[0]: '{{ pge }}' is not a parameter of this tool (templates here see only the tool's arguments)",
    ]


def test_http_url_with_bad_port_and_template_syntax(text_lines, minimal):
    text = minimal.replace("Say hello.\n", "Say hello.\n    tools: [a, b]\n") + (
        "tools:\n  a:\n    description: x\n    http: {url: 'https://example.com:99999/'}\n"
        "  b:\n    description: x\n    http: {url: 'https://example.com/{{ q'}\n"
    )
    assert text_lines(text) == [
        "11:17: tools.a.http.url: invalid URL 'https://example.com:99999/': Port out of range 0-65535",
        "14:17: tools.b.http.url: template syntax error: unexpected end of template, expected 'end of print statement'.",
    ]


def test_interpolate_env_replaces_set_names_and_lists_missing_ones():
    assert interpolate_env("Bearer ${TOKEN} for ${USER}", {"TOKEN": "abc"}) == ("Bearer abc for ${USER}", ["USER"])
    assert interpolate_env("no references, not even $HOME", {}) == ("no references, not even $HOME", [])


def test_env_references_in_instructions_stay_as_written(write):
    path = write("version: 1\nstart: a\nagents:\n  a:\n    description: x\n    instructions: |\n      Hello.\n      Token ${SECRET}\n")
    result = load(str(path), environ={"SECRET": "leaked"})
    assert [p.format() for p in result.problems] == [
        f"{path}:8:7: agents.a.instructions: warning: '${{SECRET}}' stays as written: environment variables are not read in instructions "
        "(declare a variable and use {{ name }})",
    ]
    assert result.config.agents["a"].instructions == "Hello.\nToken ${SECRET}\n"
