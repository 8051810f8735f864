"""Playing scenarios on the simulator: what a failure says, latency budgets, scripted actions."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from runner.scenarios import RunResult, load_scenarios, play_all, result_lines
from tests.scenarios.helpers import REPO


def _play(tmp_path: Path, scenarios: str) -> list[RunResult]:
    file = tmp_path / "s.yaml"
    file.write_text(f"config: {REPO / 'agents.yaml'}\nscenarios:\n{scenarios}", encoding="utf-8")
    loaded = load_scenarios([str(file)])
    assert loaded.problems == []
    configs = {path: result.config for path, result in loaded.configs.items() if result.config is not None}
    return asyncio.run(play_all(loaded.scenarios, configs, tmp_path / "runs"))


def test_a_failed_expect_says_what_was_expected_and_what_happened(tmp_path: Path) -> None:
    [result] = _play(
        tmp_path,
        """\
  - name: wrong
    database: {file: techcorp.db}
    steps:
      - user: "my phone is (555) 123-4567"
      - expect:
          reply: {contains: Welcome, regex: "^Bye", not_contains: verified}
          tool_output: {name: authenticate_user, output: {tier: platinum}}
          guardrail: competitor_mentions
          db: {query: "SELECT tier FROM customers WHERE id = 'CUST-1001'", rows: [[platinum]]}
          no_tool_call: authenticate_user
""",
    )
    assert not result.passed
    [failure] = result.failures
    assert failure.where == f"{tmp_path / 's.yaml'}:7:9"
    reply = "Thanks, Alex, you're verified. How can I help you today?"
    output = '{"authenticated": true, "customer_id": "CUST-1001", "name": "Alex Morgan", "tier": "gold", "verified_by": "phone"}'
    assert failure.problems == [
        f"authenticate_user: output does not include {{\"tier\": \"platinum\"}}; its output was {output}",
        'expected no call to authenticate_user; saw authenticate_user({"phone": "(555) 123-4567"})',
        f"expected the reply to contain 'Welcome'; it was: {reply}",
        f"expected the reply to match /^Bye/; it was: {reply}",
        f"expected the reply not to contain 'verified'; it was: {reply}",
        "expected guardrail competitor_mentions to trip; saw no policy tripped",
        """expected rows [["platinum"]] from "SELECT tier FROM customers WHERE id = 'CUST-1001'"; got [["gold"]]""",
    ]
    assert failure.transcript[0] == "**user:** my phone is (555) 123-4567"
    assert failure.transcript[-1] == f"**router:** {reply}"
    assert result.artifacts is not None and (result.artifacts / "events.jsonl").is_file()


def test_expectations_cover_only_what_happened_since_the_previous_expect(tmp_path: Path) -> None:
    [result] = _play(
        tmp_path,
        """\
  - name: windows
    steps:
      - user: "my phone is (555) 123-4567"
      - expect: {tool_call: {name: authenticate_user}}
      - user: "hmm"
      - expect: {tool_call: {name: authenticate_user}}
""",
    )
    [failure] = result.failures
    assert failure.step == "expect"
    assert failure.problems == ["expected a call to authenticate_user; saw no tool call"]


def test_a_passing_run_leaves_no_files_and_a_latency_miss_is_not_a_failure(tmp_path: Path) -> None:
    [result] = _play(
        tmp_path,
        """\
  - name: slow but right
    steps:
      - user: "hmm"
      - expect: {no_tool_call: true, within: 0ms}
""",
    )
    assert result.passed
    assert len(result.latency_misses) == 1
    assert result.latency_misses[0].startswith(f"{tmp_path / 's.yaml'}:6:9: turn 1: first output after ")
    assert result.latency_misses[0].endswith(" s, budget 0 s")
    assert result.artifacts is None
    assert list((tmp_path / "runs").iterdir()) == []


def test_the_result_line_counts_steps_in_the_singular_and_the_plural(tmp_path: Path) -> None:
    one, two = _play(
        tmp_path,
        """\
  - name: one step
    steps:
      - user: "hmm"
  - name: two steps
    steps:
      - user: "hmm"
      - user: "hmm"
""",
    )
    assert re.fullmatch(r"PASS .*s\.yaml::one step \(\d+\.\d\ds, 1 step\)", result_lines(one)[0])
    assert re.fullmatch(r"PASS .*s\.yaml::two steps \(\d+\.\d\ds, 2 steps\)", result_lines(two)[0])


def test_scripted_actions_the_session_never_used_fail_the_scenario(tmp_path: Path) -> None:
    [result] = _play(
        tmp_path,
        """\
  - name: too many scripted replies
    steps:
      - model: [{say: one}, {say: two}]
      - user: "hi"
""",
    )
    assert [failure.problems for failure in result.failures] == [
        ["1 scripted model action(s) were never used: fewer responses than the scenario scripted"]
    ]


def test_tool_steps_check_results_and_failures(tmp_path: Path) -> None:
    [result] = _play(
        tmp_path,
        """\
  - name: direct tool calls
    steps:
      - tool: {name: check_inventory, args: {product_id: PROD-404}}
        expect: {error: "No product with id PROD-404"}
      - tool: {name: check_inventory, args: {product_id: PROD-001}}
        expect: {error: true}
      - tool: {name: check_inventory, args: {}}
        expect: {error: false, contains: in_stock}
""",
    )
    assert [(failure.step, failure.problems) for failure in result.failures] == [
        ("tool: check_inventory", ["expected the call to fail, it succeeded"]),
        (
            "tool: check_inventory",
            [
                "output does not contain 'in_stock'",
                "expected the call to succeed, it failed: invalid arguments: $: 'product_id' is a required property",
            ],
        ),
    ]


def test_user_audio_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "hello.wav").write_bytes(b"RIFF")
    [result] = _play(
        tmp_path,
        """\
  - name: spoken
    steps:
      - user_audio: hello.wav
""",
    )
    assert [failure.problems for failure in result.failures] == [
        ["user_audio needs voice mode, which runner test does not have yet; write the words as a `user:` step"]
    ]


def test_fixtures_that_do_not_fit_the_database_fail_before_the_session(tmp_path: Path) -> None:
    [result] = _play(
        tmp_path,
        """\
  - name: bad fixture
    database:
      file: techcorp.db
      rows: {gadgets: [{id: 1}]}
    steps:
      - user: hi
""",
    )
    assert [(failure.where, failure.step, failure.problems) for failure in result.failures] == [
        (f"{tmp_path / 's.yaml'}:3:5", "database", ["fixtures for techcorp.db: no such table: gadgets"])
    ]
    assert result.steps_run == 0


def test_the_greeting_is_checked_by_an_expect_placed_first_and_is_kept_out_of_later_windows(tmp_path: Path) -> None:
    results = _play(
        tmp_path,
        """\
  - name: greeted
    steps:
      - expect: {reply: "Thanks for calling TechCorp", no_tool_call: true}
      - user: "hmm"
      - expect: {reply: {regex: "^Sorry, I didn't catch that"}}
  - name: first words only
    steps:
      - user: "hmm"
      - expect: {reply: {not_contains: "Thanks for calling"}}
  - name: a start agent that does not speak first
    start: support
    steps:
      - expect: {reply: "Thanks for calling"}
""",
    )
    assert [result.passed for result in results] == [True, True, False]
    assert results[2].failures[0].problems == ["expected the reply to contain 'Thanks for calling'; it was: no reply"]
