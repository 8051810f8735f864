"""The phone keys: an agent's `transfer_to` (a person's number), its `dtmf` map, and the `sip.numbers` routing map."""

from __future__ import annotations

from runner.config import load

PHONE = """\
version: 1
start: desk
sip:
  numbers:
    "+15551230001": person
agents:
  desk:
    description: Answers the line.
    instructions: Help the caller.
    handoffs: [person]
    dtmf:
      "0": person
  person:
    description: A colleague.
    instructions: Say a colleague is on the way.
    transfer_to: "sip:+15551234567@sip.example.com"
    handoffs: [desk]
"""


def test_phone_keys_build_into_the_model(write):
    result = load(write(PHONE))
    assert result.problems == []
    config = result.config
    assert config.sip_numbers == {"+15551230001": "person"}
    assert config.agents["person"].transfer_to == "sip:+15551234567@sip.example.com"
    assert config.agents["desk"].dtmf == {"0": "person"} and config.agents["desk"].transfer_to is None


def test_a_bad_transfer_uri_is_a_located_error(text_lines):
    for bad in ('"+15551234567"', '"tel:555-1234"', '"sip:nobody"', '"http://example.com"'):
        assert text_lines(PHONE.replace('"sip:+15551234567@sip.example.com"', bad)) == [
            f"16:18: agents.person.transfer_to: '{bad[1:-1]}' is not valid: a transfer target is tel:+<number> (e.g. tel:+15551234567) "
            "or a SIP URI (e.g. sip:+15551234567@sip.example.com)"
        ]
    assert text_lines(PHONE.replace('"sip:+15551234567@sip.example.com"', '"tel:+1 (555) 123-4567"')) != []
    assert text_lines(PHONE.replace('"sip:+15551234567@sip.example.com"', '"tel:+1(555)123-4567"')) == []
    assert text_lines(PHONE.replace('"sip:+15551234567@sip.example.com"', '"sips:alice@pbx.example.com:5061;transport=tls"')) == []


def test_a_key_must_be_a_keypad_key_and_hand_off_along_an_edge(text_lines):
    assert text_lines(PHONE.replace('"0": person', '"00": person')) == [
        "12:7: agents.desk.dtmf.00: '00' is not a valid name: a key is one of 0-9, *, #, A-D"
    ]
    assert text_lines(PHONE.replace('"0": person', '"#": desk')) == [
        "12:12: agents.desk.dtmf.#: 'desk' is not a handoff of 'desk' (a key press hands off like the agent would)"
    ]


def test_a_called_number_must_route_to_an_agent(text_lines):
    assert text_lines(PHONE.replace('"+15551230001": person', '"+15551230001": persn')) == [
        "5:21: sip.numbers.+15551230001: unknown agent 'persn' (did you mean 'person'?)"
    ]
    assert text_lines(PHONE.replace('"+15551230001"', '"front desk"')) == [
        "5:5: sip.numbers.front desk: 'front desk' is not a valid name: a called number is digits with an optional leading +, e.g. +15551230000"
    ]
