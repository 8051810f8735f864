"""GPT-Live on a phone call (the sideband of a SIP session): the last line played, then the end; transfers; keypad presses.

The service plays the audio and reflects it to the sideband with its place on the session
timeline (`session.output_audio.delta` with `start_ms`/`end_ms`); the core ends a session
once the reflected audio has reached the end of its last line, bounded by LAST_LINE_SECONDS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.compile_live import compile_live, live_client_event_problems
from runner.config import load
from runner.core import EndSession, Handoff, Send
from runner.core.ending import GOODBYE_INSTRUCTIONS, LAST_LINE_SECONDS, LIMIT_GOODBYE_INSTRUCTIONS
from runner.core.live import SEGMENT_GAP, GptLiveSession
from runner.core.records import CallTransferRequested, KeyPressed, Notice
from runner.core.tooling import PHONE_TRANSFER_INSTRUCTIONS
from tests.core.test_live import call, completed, output, said, sends

PERSON = "tel:+15550111"
PROJECT = f"""\
version: 1
name: Desk
target: live
start: desk
limits: {{max_session_minutes: 1}}
agents:
  desk:
    description: Answers the line.
    instructions: You answer the desk line.
    handoffs: [person, sales]
    dtmf: {{"0": person, "2": sales}}
  sales:
    description: Sells.
    instructions: You are sales.
  person:
    description: A colleague.
    instructions: You put callers through to a colleague.
    transfer_to: "{PERSON}"
"""


@pytest.fixture
def program(tmp_path: Path):
    path = tmp_path / "agents.yaml"
    path.write_text(PROJECT, encoding="utf-8")
    result = load(path, import_code=False)
    assert result.config is not None, [problem.format() for problem in result.problems]
    return compile_live(result.config, transport="sip"), result.config


class Phone:
    """The sideband core of a SIP call, every sent event checked against GPT-Live's client events."""

    def __init__(self, program, config, *, phone: bool = True) -> None:
        self.core = GptLiveSession(program.agents, program.start, guardrails=config.guardrails, limits=config.limits, session_id="p1",
                                   attached=True, phone=phone)
        self.sent: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.core, name)

        def checked(*args: Any, **kwargs: Any) -> Any:
            actions = method(*args, **kwargs)
            for action in actions or []:
                if isinstance(action, Send):
                    assert live_client_event_problems(action.event) == [], action.event
                    self.sent.append(action.event)
            return actions

        return checked


def started(program, **options: Any) -> Phone:
    line = Phone(*program, **options)
    assert line.start(0.0) == []
    line.receive({"type": "session.started", "event_id": "e0", "session": {"id": "live_sip1"}}, 0.1)
    return line


def reflected(start_ms: int, end_ms: int) -> dict[str, Any]:
    """The service's copy of audio it played on the call, on the session timeline."""
    return {"type": "session.output_audio.delta", "delta": "AAAA", "start_ms": start_ms, "end_ms": end_ms}


def ends(actions: list[Any]) -> list[EndSession]:
    return [action for action in actions if isinstance(action, EndSession)]


def test_the_goodbye_is_asked_for_and_the_call_ends_once_its_audio_was_played(program):
    line = started(program)
    actions = line.end("guardrail farewell", 1.0)
    assert sends(actions) == [{"type": "session.commentary.append", "content": GOODBYE_INSTRUCTIONS, "delegation_id": None}]
    assert ends(actions) == [] and line.core.busy
    assert ends(line.receive(said("Thank you for calling. Goodbye!", 1000, 1800), 1.2)) == []
    assert ends(line.receive(reflected(1000, 1500), 1.3)) == []
    assert ends(line.tick(1.2 + SEGMENT_GAP)) == [], "said in full, but not played in full yet"
    actions = line.receive(reflected(1500, 1800), 2.4)
    assert ends(actions) == [EndSession("guardrail farewell")]
    assert sends(actions) == [], "the edge hangs the call up: no session.close before it"
    assert line.core.ended and line.end("again", 2.5) == []


def test_a_reply_being_said_when_the_end_comes_is_not_taken_for_the_goodbye(program):
    line = started(program)
    line.receive(said("Your order ships", 0, 900), 0.5)
    line.end("guardrail farewell", 0.6)
    line.receive(reflected(0, 900), 0.7)
    assert ends(line.tick(0.5 + SEGMENT_GAP)) == [], "that reply was asked for before the goodbye"
    line.receive(said("Goodbye!", 1200, 1700), 1.5)
    line.tick(1.5 + SEGMENT_GAP)
    assert ends(line.receive(reflected(900, 1700), 2.4)) == [EndSession("guardrail farewell")]


def test_without_the_played_audio_the_wait_for_the_last_line_is_bounded(program):
    line = started(program)
    line.end("guardrail farewell", 1.0)
    line.receive(said("Goodbye!", 1000, 1500), 1.1)
    assert line.core.next_deadline() <= 1.0 + LAST_LINE_SECONDS
    assert ends(line.tick(1.0 + LAST_LINE_SECONDS - 0.1)) == []
    assert ends(line.tick(1.0 + LAST_LINE_SECONDS)) == [EndSession("guardrail farewell")]


def test_the_session_limit_says_its_goodbye_first(program):
    line = started(program)
    actions = line.tick(60.0)
    assert [action.message for action in actions if isinstance(action, Notice)] == ["session limit of 1 minutes reached"]
    assert sends(actions) == [{"type": "session.commentary.append", "content": LIMIT_GOODBYE_INSTRUCTIONS, "delegation_id": None}]
    line.receive(said("I have to end the call now. Goodbye!", 60_000, 61_000), 60.2)
    line.tick(60.2 + SEGMENT_GAP)
    assert ends(line.receive(reflected(60_000, 61_000), 61.5)) == [EndSession("session limit")]


def test_on_a_call_the_browser_edge_ends_with_session_close_after_the_last_line(program):
    line = started(program, phone=False)
    line.end("guardrail farewell", 1.0)
    line.receive(said("Goodbye!", 1000, 1500), 1.1)
    line.tick(1.1 + SEGMENT_GAP)
    actions = line.receive(reflected(1000, 1500), 2.0)
    assert sends(actions) == [{"type": "session.close"}] and ends(actions) == []
    closed = line.receive({"type": "session.closed", "event_id": "e", "reason": "close_requested", "session": {}, "usage": {"seconds": 2.0}}, 2.1)
    assert ends(closed) == [EndSession("guardrail farewell")]


def test_a_handoff_to_a_person_says_a_short_line_then_transfers_the_call(program):
    compiled, _ = program
    line = started(program)
    line.receive(said("I want a person.", 0, 1200, "input"), 0.5)
    line.receive(call("call_p", "transfer_to_person", {"reason": "asked for a person"}), 1.0)
    (update,) = sends(line.receive(completed(), 1.1))
    responses = update["session"]["delegation"]["responses"]
    assert responses["tool_choice"] == "none"
    assert responses["instructions"] == f"{compiled.agents['person'].delegation['instructions']}\n\n{PHONE_TRANSFER_INSTRUCTIONS}"
    actions = line.receive({"type": "session.updated", "event_id": "e", "session": {}}, 1.2)
    assert [action for action in actions if isinstance(action, Handoff)] == [Handoff("desk", "person", "asked for a person", True, None)]
    assert sends(actions) == [
        output("call_p", '{"transferred_to": "person"}'),
        {"type": "response.create"},
        dict(compiled.agents["person"].handoff[1]),
    ]
    line.receive(said("Connecting you to a colleague now.", 1300, 2400), 1.4)
    assert ends(line.tick(1.4 + SEGMENT_GAP)) == []
    actions = line.receive(reflected(1300, 2400), 3.0)
    assert actions == [Notice(f"transferring the call to {PERSON}"), CallTransferRequested("person", PERSON), EndSession(f"transferred to {PERSON}")]


def test_a_key_the_agent_maps_hands_off_and_any_other_reaches_the_model_as_a_line(program):
    compiled, _ = program
    line = started(program)
    actions = line.receive({"type": "transport.dtmf.received", "event_id": "e1", "event": "5"}, 1.0)
    assert actions[0] == KeyPressed("desk", "5")
    assert sends(actions) == [
        {"type": "response.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "(The caller pressed 5 on the keypad.)"}]}},
        {"type": "response.create"},
    ]
    actions = line.receive({"type": "transport.dtmf.received", "event_id": "e2", "event": "2"}, 2.0)
    assert actions[0] == KeyPressed("desk", "2")
    assert sends(actions) == [dict(compiled.agents["sales"].handoff[0])]
    actions = line.receive({"type": "session.updated", "event_id": "e", "session": {}}, 2.1)
    assert [action for action in actions if isinstance(action, Handoff)] == [Handoff("desk", "sales", "the caller pressed 2", True, None)]
    assert sends(actions) == [{"type": "response.create"}, dict(compiled.agents["sales"].handoff[1])]
    assert line.core.active_agent == "sales"
    assert line.core.unknown_events == {}


def test_zero_puts_a_person_on_through_the_same_short_line_and_transfer(program):
    line = started(program)
    line.key_pressed("0", 1.0)
    line.receive({"type": "session.updated", "event_id": "e", "session": {}}, 1.1)
    line.receive(said("Connecting you now.", 1200, 2000), 1.2)
    line.tick(1.2 + SEGMENT_GAP)
    assert ends(line.receive(reflected(1200, 2000), 2.5)) == [EndSession(f"transferred to {PERSON}")]
