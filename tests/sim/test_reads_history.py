"""The simulated model decides from the conversation items it was given, as a model does:
a call with its output already in the history since the user spoke is not made again."""

from __future__ import annotations

import json

from runner.sim import Simulator, parse_rules

RULES = """\
rules:
  - when: 'open a ticket'
    call: {name: open_ticket, args: {subject: "{{ user }}"}}
  - after_tool: open_ticket
    say: "Ticket {{ output.ticket }} is open."
"""
TOOLS = [{"type": "function", "name": "open_ticket", "description": "Open a ticket.", "parameters": {"type": "object", "properties": {"subject": {"type": "string"}}}}]
USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "please open a ticket"}]}
CALL = {"type": "function_call", "call_id": "call_earlier", "name": "open_ticket", "arguments": json.dumps({"subject": "please open a ticket"})}
OUTPUT = {"type": "function_call_output", "call_id": "call_earlier", "output": json.dumps({"ticket": "T-7"})}
CUT_REPLY = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Ticket T-"}]}


def _reply_to_history(kit, history: list[dict]) -> list[dict]:
    """A fresh session given `history` as items, then asked for one response: its output items."""

    async def scenario() -> list[dict]:
        async with Simulator(parse_rules(RULES, "rules.yaml")) as sim:
            client = await kit.connect(sim.ws_base_url)
            await client.configure(output_modalities=["text"], audio={"input": {"turn_detection": None}}, tools=TOOLS)
            for item in history:
                await client.send({"type": "conversation.item.create", "item": item})
                await client.until("conversation.item.done")
            await client.send({"type": "response.create"})
            done = (await client.until("response.done"))[-1]
            kit.assert_valid(sim.sent[0])
            return done["response"]["output"]

    return kit.run(scenario)


def _said(output: list[dict]) -> list[tuple[str, str]]:
    return [(item["type"], item["content"][0]["text"] if item["type"] == "message" else item["name"]) for item in output]


def test_a_user_request_alone_gets_the_tool_called(kit) -> None:
    assert _said(_reply_to_history(kit, [USER])) == [("function_call", "open_ticket")]


def test_a_call_already_answered_in_the_history_is_not_made_again(kit) -> None:
    assert _said(_reply_to_history(kit, [USER, CALL, OUTPUT])) == [("message", "Ticket T-7 is open.")]


def test_a_reply_cut_after_the_tool_answered_is_given_from_that_output(kit) -> None:
    assert _said(_reply_to_history(kit, [USER, CALL, OUTPUT, CUT_REPLY])) == [("message", "Ticket T-7 is open.")]


def test_a_note_in_the_runners_wording_is_only_text_to_the_model(kit) -> None:
    """The simulator knows no private format: a system note is not a function call."""
    note = {"type": "message", "role": "system", "content": [{"type": "input_text", "text": 'Earlier tool call open_ticket({"subject": "x"}) returned: {"ticket": "T-7"}'}]}
    assert _said(_reply_to_history(kit, [USER, note])) == [("function_call", "open_ticket")]
