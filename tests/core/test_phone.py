"""Phone inputs in the core: keypad presses (DTMF) and a handoff to an agent that stands for a person's number."""

from __future__ import annotations

import dataclasses
import json

from runner.core import EndSession, Handoff, Notice, Output, UserMessage
from runner.core.records import CallTransferRequested, KeyPressed
from runner.core.ending import LAST_LINE_SECONDS
from tests.core.conftest import sent, sent_types, team

PERSON = "tel:+15551234567"


def dtmf(key: str) -> dict:
    return {"type": "input_audio_buffer.dtmf_event_received", "event": key, "received_at": 1767225600}


def phone_team(*, on_phone: bool, dtmf_map: dict | None = None) -> dict:
    agents = team(router={"transfers": ("support", "billing")})
    agents["router"] = dataclasses.replace(agents["router"], dtmf=dtmf_map or {}, transfers_calls=on_phone)
    agents["billing"] = dataclasses.replace(agents["billing"], transfer_to=PERSON, transfers_calls=on_phone)
    agents["support"] = dataclasses.replace(agents["support"], transfers_calls=on_phone)
    return agents


def configured(make_session, server, agents):
    session = make_session(agents, output=Output.AUDIO_REMOTE)
    session.start(0.0)
    session.feed(server.session_updated())
    return session


def test_a_key_press_reaches_the_transcript_and_the_model_as_text(make_session, server):
    session = configured(make_session, server, phone_team(on_phone=True))
    actions = session.feed(dtmf("5"))
    assert [record for record in actions if isinstance(record, KeyPressed)] == [KeyPressed("router", "5")]
    assert [record.text for record in actions if isinstance(record, UserMessage)] == ["(The caller pressed 5 on the keypad.)"]
    created, reply = sent(actions)
    assert created["item"] == {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "(The caller pressed 5 on the keypad.)"}]}
    assert reply["type"] == "response.create"
    assert session.transcript[-1].text == "(The caller pressed 5 on the keypad.)"


def test_a_mapped_key_hands_off_without_asking_the_model(make_session, server):
    session = configured(make_session, server, phone_team(on_phone=False, dtmf_map={"0": "support"}))
    actions = session.feed(dtmf("0"))
    assert sent_types(actions) == ["session.update", "response.create"]
    assert sent(actions)[0]["session"]["instructions"] == "You are the support agent."
    assert "Introduce yourself as technical support." in sent(actions)[1]["response"]["instructions"]
    assert [record for record in actions if isinstance(record, Handoff)] == [Handoff("router", "support", "the caller pressed 0", True, None)]
    assert session.active_agent == "support"


def test_a_malformed_key_press_is_reported_not_raised(make_session, server):
    session = configured(make_session, server, phone_team(on_phone=True))
    actions = session.feed({"type": "input_audio_buffer.dtmf_event_received", "received_at": 1})
    assert [getattr(record, "code", None) for record in actions] == ["malformed_event"]


def _hand_to_billing(session, server):
    session.feed(*server.spoken_reply("r1", "i1", "Hello."))
    session.user_text("I want a person", session.now)
    actions = session.feed(server.response_created("r2"), server.call("r2", "c1", "transfer_to_billing", json.dumps({"reason": "asked for a person"})),
                           server.response_done("r2"))
    return actions


def test_on_a_phone_call_a_handoff_to_a_person_says_one_line_then_transfers_the_call(make_session, server):
    session = configured(make_session, server, phone_team(on_phone=True))
    actions = _hand_to_billing(session, server)
    assert sent_types(actions) == ["session.update", "conversation.item.create", "response.create"]
    line = sent(actions)[-1]["response"]
    assert line["tool_choice"] == "none" and line["instructions"].endswith("In one short sentence, tell them you are connecting them now. Do not call tools.")
    actions = session.feed({"type": "output_audio_buffer.started", "event_id": "e_play", "response_id": "r3"},
                           *server.spoken_reply("r3", "i3", "Connecting you now."))
    assert [action for action in actions if isinstance(action, (CallTransferRequested, EndSession))] == [CallTransferRequested("billing", PERSON)]
    assert Notice(f"transferring the call to {PERSON}") in actions
    assert not session.ended, "the service is still playing the line: the call is transferred once it is heard"
    played = session.feed({"type": "output_audio_buffer.stopped", "event_id": "e_stop", "response_id": "r3"})
    assert [action for action in played if isinstance(action, EndSession)] == [EndSession(f"transferred to {PERSON}")]
    assert session.ended


def test_a_last_line_the_service_never_reports_played_closes_at_its_deadline(make_session, server):
    session = configured(make_session, server, phone_team(on_phone=True))
    _hand_to_billing(session, server)
    session.feed(*server.spoken_reply("r3", "i3", "Connecting you now."), now=5.0)
    assert not session.ended and session.next_deadline() == 5.0 + LAST_LINE_SECONDS
    assert session.tick(5.0 + LAST_LINE_SECONDS - 0.1) == []
    assert [action for action in session.tick(5.0 + LAST_LINE_SECONDS) if isinstance(action, EndSession)] == [EndSession(f"transferred to {PERSON}")]


def test_off_the_phone_the_person_agent_answers_itself_with_a_note(make_session, server):
    session = configured(make_session, server, phone_team(on_phone=False))
    actions = _hand_to_billing(session, server)
    assert Notice(f"'billing' stands for {PERSON}: a phone call would be transferred there; here 'billing' answers") in actions
    assert "Introduce yourself as billing." in sent(actions)[-1]["response"]["instructions"]
    actions = session.feed(*server.spoken_reply("r3", "i3", "Billing here."))
    assert not any(isinstance(action, (CallTransferRequested, EndSession)) for action in actions) and not session.ended


def test_a_local_key_press_is_the_same_input_as_the_sip_event(make_session, server):
    """Twilio's stream reports presses itself: `key_pressed` is the one implementation both sources use."""
    session = configured(make_session, server, phone_team(on_phone=True, dtmf_map={"0": "billing"}))
    actions = session.key_pressed("5", session.now)
    assert [record for record in actions if isinstance(record, KeyPressed)] == [KeyPressed("router", "5")]
    assert [record.text for record in actions if isinstance(record, UserMessage)] == ["(The caller pressed 5 on the keypad.)"]
    session.feed(*server.spoken_reply("r1", "i1", "You pressed five."))
    actions = session.key_pressed("0", session.now)
    assert [record for record in actions if isinstance(record, Handoff)] == [Handoff("router", "billing", "the caller pressed 0", True, None)]
    assert sent(actions)[-1]["response"]["instructions"].endswith("In one short sentence, tell them you are connecting them now. Do not call tools.")
