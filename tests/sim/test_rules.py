"""The simulated model: rule files (and their located errors), matching, scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.sim import Call, RuleFileError, Say, Simulator, Turn, decide, load_rules, parse_rules
from runner.sim.brain import MAX_MODEL_TURNS, parse_script_action

RULES = """\
default: "Pardon?"
filler: "Hold on."
agents:
  desk: {tool: sign_in}
  shop: {instructions: 'shop assistant'}
rules:
  - when: 'my number is (?P<phone>\\d+)'
    agent: desk
    call: {name: sign_in, args: {phone: "{{ match.phone }}", tries: 1}}
  - after_tool: sign_in
    say: "Welcome, {{ output.name }}."
  - when: 'buy (?P<count>\\d+)'
    agent: shop
    calls:
      - {name: price, args: {count: "{{ match.count }}"}}
      - {name: stock, args: {item: "{{ facts.item }}"}}
  - when: 'buy'
    transfer: shop
"""
DESK = frozenset({"sign_in", "transfer_to_shop"})


@pytest.fixture
def rules():
    return parse_rules(RULES, "rules.yaml")


def test_a_call_renders_regex_groups_into_arguments_keeping_numbers(rules) -> None:
    assert decide(rules, Turn("hi, my number is 5551234", "", DESK)) == (Call("sign_in", json.dumps({"phone": 5551234, "tries": 1})),)


def test_after_tool_rules_answer_only_the_turn_after_that_tool(rules) -> None:
    assert decide(rules, Turn("my number is 1", "", DESK, after_tool="sign_in", output={"name": "Alex"})) == (Say("Welcome, Alex."),)
    assert decide(rules, Turn("hello", "", DESK)) == (Say("Pardon?"),)


def test_unknown_tool_output_gets_a_sentence_built_from_it(rules) -> None:
    assert decide(rules, Turn("x", "", DESK, after_tool="other", output={"ticket_id": "TCK-7", "status": "open"})) == (Say("Here is what I found: ticket id TCK-7, status open."),)
    assert decide(rules, Turn("x", "", DESK, after_tool="other", output={"error": "No such invoice."})) == (Say("Sorry, that did not work: No such invoice."),)


def test_agent_is_recognised_by_tool_or_instructions_and_missing_tools_fall_through(rules) -> None:
    shop_tools = frozenset({"price", "stock"})
    turn = Turn("I want to buy 2", "You are the shop assistant.", shop_tools, facts={"item": "mug"})
    assert decide(rules, turn) == (Call("price", '{"count": 2}'), Call("stock", '{"item": "mug"}'))
    without_stock = Turn("I want to buy 2", "You are the shop assistant.", frozenset({"price"}), facts={"item": "mug"})
    assert decide(rules, without_stock) == (Say("Pardon?"),)
    assert decide(rules, Turn("I want to buy 2", "", DESK)) == (Call("transfer_to_shop", '{"reason": "I want to buy 2"}'),)


def test_a_template_naming_a_missing_fact_falls_through(rules) -> None:
    turn = Turn("buy 2", "You are the shop assistant.", frozenset({"price", "stock"}))
    assert decide(rules, turn) == (Say("Pardon?"),)


def test_after_a_successful_transfer_the_new_agent_hears_the_request_again(rules) -> None:
    turn = Turn("buy 3", "shop assistant", frozenset({"price", "stock"}), after_tool="transfer_to_shop", output={"agent": "shop"}, facts={"item": "cup"})
    assert decide(rules, turn)[0] == Call("price", '{"count": 3}')


def test_filler_when_tools_are_off_and_a_loop_guard(rules) -> None:
    assert decide(rules, Turn("my number is 1", "", DESK, tool_choice="none")) == (Say("Hold on."),)
    assert decide(rules, Turn("my number is 1", "", DESK, model_turns=MAX_MODEL_TURNS)) == (Say("Pardon?"),)


def test_rule_file_problems_are_located_and_all_reported() -> None:
    text = """\
defualt: hi
rules:
  - when: '('
    say: "{{ oops"
  - say: a
    call: {name: x}
  - agent: nobody
    calls: []
    after_tool: 3
agents:
  desk: {}
"""
    with pytest.raises(RuleFileError) as raised:
        parse_rules(text, "bad.yaml")
    assert str(raised.value).splitlines() == [
        "bad.yaml:1:1: defualt: unknown key 'defualt' (did you mean 'default'?)",
        "bad.yaml:3:11: rules[0].when: invalid regular expression: missing ), unterminated subpattern at position 0",
        "bad.yaml:4:10: rules[0].say: invalid template: unexpected end of template, expected 'end of print statement'.",
        "bad.yaml:5:5: rules[1]: a rule needs exactly one of say, call, calls, transfer (found say, call)",
        "bad.yaml:8:12: rules[2].calls: expected a non-empty list of calls",
        "bad.yaml:9:17: rules[2].after_tool: expected a string",
        "bad.yaml:11:9: agents.desk: give 'tool' (a tool only this agent has) or 'instructions' (a pattern)",
    ]


def test_bad_yaml_and_missing_files_are_reported_not_raised_as_tracebacks(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as raised:
        parse_rules("rules: [\n", "broken.yaml")
    assert str(raised.value).startswith("broken.yaml:2:1: invalid YAML: ")
    with pytest.raises(RuleFileError) as missing:
        load_rules(tmp_path / "absent.yaml")
    assert str(missing.value) == f"{tmp_path / 'absent.yaml'}:1:1: cannot read rule file: No such file or directory (bundled rule sets: techcorp)"
    with pytest.raises(RuleFileError) as unknown:
        Simulator("nosuch")
    assert str(unknown.value) == "nosuch:1:1: no rule file or bundled rule set named 'nosuch' (bundled rule sets: techcorp)"


def test_bundled_rules_load_by_name_or_path() -> None:
    by_name = load_rules("techcorp")
    assert by_name.rules and set(by_name.agents) == {"router", "support", "sales", "billing", "human"}
    assert load_rules(Path(by_name.source)).rules == by_name.rules


@pytest.mark.parametrize("action", [{"say": 3}, {"call": {"name": "x", "arg": {}}}, {"calls": []}, {"say": "a", "call": {"name": "x"}}, {"shout": "a"}])
def test_malformed_scripted_actions_are_refused(action: dict) -> None:
    with pytest.raises(ValueError, match="scripted"):
        parse_script_action(action)


def test_script_wins_over_rules_even_for_tools_not_offered(kit) -> None:
    async def scenario() -> None:
        async with Simulator("techcorp") as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(output_modalities=["text"])
            sim.script([{"say": "Scripted."}, {"call": {"name": "transfer_to_nowhere", "args": {"reason": "test"}}}])
            await client.send({"type": "response.create"})
            done = (await client.until("response.done"))[-1]
            assert done["response"]["output"][0]["content"] == [{"type": "output_text", "text": "Scripted."}]
            await client.send({"type": "response.create"})
            call = (await client.until("response.function_call_arguments.done"))[-1]
            assert (call["name"], call["arguments"]) == ("transfer_to_nowhere", '{"reason": "test"}')
            await client.until("response.done")
            await client.send({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": call["call_id"], "output": '{"error": "not an edge"}'}})
            await client.send({"type": "response.create"})
            done = (await client.until("response.done"))[-1]
            assert done["response"]["output"][0]["content"][0]["text"] == "Sorry, that did not work: not an edge."

    kit.run(scenario)


def test_a_one_off_instruction_to_say_an_exact_sentence_is_obeyed_word_for_word():
    rules = parse_rules("rules: []\n", "<none>")
    refusal = 'Do not act on the user\'s last message. Reply with exactly this sentence and nothing else: "I can\'t discuss that."'
    turn = Turn(user_text="tell me something rude", instructions="You are support.", tools=frozenset(), tool_choice="none",
                response_instructions=refusal)
    assert decide(rules, turn) == (Say("I can't discuss that."),)


def test_a_closing_request_gets_a_goodbye_and_other_tool_free_requests_the_filler():
    rules = parse_rules("rules: []\n", "<none>")
    closing = Turn(user_text="", instructions="You are support.", tools=frozenset(), tool_choice="none",
                   response_instructions="The conversation is ending now. Say one short, friendly goodbye sentence.")
    filler = Turn(user_text="", instructions="You are support.", tools=frozenset(), tool_choice="none",
                  response_instructions="Tell the caller you are still working on it.")
    assert decide(rules, closing) == (Say("Thank you for calling. Goodbye!"),)
    assert decide(rules, filler) == (Say(rules.filler),)


def test_an_opening_turn_gets_the_rule_files_greeting_not_the_pardon():
    rules = parse_rules('greeting: "Hello, {{ agent }} here. How can I help?"\nagents: {desk: {tool: sign_in}}\nrules: []\n', "<none>")
    opening = Turn(user_text="", instructions="You are the desk.", tools=frozenset({"sign_in"}), opening=True)
    assert decide(rules, opening) == (Say("Hello, desk here. How can I help?"),)
    assert decide(rules, Turn(user_text="", instructions="You are the desk.", tools=frozenset({"sign_in"}))) == (Say(rules.default),)


def test_an_opening_turn_follows_a_rule_for_it_and_an_exact_greeting_in_the_response_instructions():
    rules = parse_rules("rules:\n  - {when: '^$', say: \"Front desk, good morning.\"}\n", "<none>")
    assert decide(rules, Turn(user_text="", instructions="You are the desk.", tools=frozenset(), opening=True)) == (Say("Front desk, good morning."),)
    exact = 'You are the desk.\n\nGreet the caller with exactly this sentence: "Welcome to the desk."'
    turn = Turn(user_text="", instructions="You are the desk.", tools=frozenset(), opening=True, response_instructions=exact)
    assert decide(rules, turn) == (Say("Welcome to the desk."),)


def test_a_response_created_before_anyone_spoke_is_an_opening_turn(kit) -> None:
    async def scenario() -> None:
        async with Simulator("techcorp") as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(output_modalities=["text"], instructions="You are TechCorp's sales specialist.",
                                   tools=[{"type": "function", "name": "lookup_products", "parameters": {"type": "object", "properties": {}}}])
            await client.send({"type": "response.create"})
            done = (await client.until("response.done"))[-1]
            assert done["response"]["output"][0]["content"] == [{"type": "output_text", "text": "Hi, this is sales. How can I help?"}]

    kit.run(scenario)
