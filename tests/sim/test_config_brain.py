"""The config brain's parts: ranking descriptions, filling arguments by schema, asking, explaining."""

from __future__ import annotations

import json

from runner.sim import Call, Say, Turn, parse_rules
from runner.sim.brain import decide_explained
from runner.sim.config_brain import ask_for, describe_output, greeting
from runner.sim.ranking import rank
from runner.sim.slots import fill, normalise_numbers

NO_RULES = parse_rules("rules: []\n", "<none>")
PHONE = {"type": "string", "description": "Phone number in the form (555) 123-4567."}
INVOICE = {"type": "string", "description": "An invoice id such as INV-2001."}


def tool(name: str, description: str, properties: dict, required: list[str] = ()) -> dict:
    return {"type": "function", "name": name, "description": description,
            "parameters": {"type": "object", "properties": properties, "required": list(required)}}


def test_a_phone_number_is_found_however_it_is_said_and_written_in_the_examples_shape() -> None:
    schema = {"properties": {"phone": PHONE}, "required": ["phone"]}
    for said in ("my number is 555 123 4567", "it's 555-123-4567", "five five five one two three four five six seven"):
        assert fill(schema, [said], {}, []).args == {"phone": "(555) 123-4567"}, said


def test_ids_come_from_the_descriptions_example_patterns_and_known_facts() -> None:
    schema = {"properties": {"customer_id": {"type": "string"}, "invoice_id": INVOICE, "order": {"type": "string", "pattern": "^PZ-\\d{4}$"}},
              "required": ["customer_id", "invoice_id"]}
    filled = fill(schema, ["a refund for inv 2001 on order pz-1043"], {"customer_id": "CUST-1001"}, [])
    assert filled.args == {"customer_id": "CUST-1001", "invoice_id": "INV-2001", "order": "PZ-1043"}
    assert filled.sources["customer_id"] == "known from earlier in the conversation"
    assert fill(schema, ["no idea"], {}, []).missing == ["customer_id", "invoice_id"]


def test_enums_prefer_the_word_said_over_a_synonym_and_numbers_skip_clock_times_and_phones() -> None:
    reason = {"type": "string", "enum": ["lost", "stolen", "damaged"]}
    assert fill({"properties": {"reason": reason}}, ["it was stolen"], {}, []).args == {"reason": "stolen"}
    assert fill({"properties": {"category": {"type": "string", "enum": ["billing", "connectivity"]}}}, ["my wifi drops"], {}, []).args == {"category": "connectivity"}
    seats = {"type": "integer", "minimum": 1, "description": "How many seats."}
    assert fill({"properties": {"seats": seats}}, ["at 8 o'clock, call (555) 123-4567, three seats"], {}, []).args == {"seats": 3}


def test_dates_times_and_emails_by_format() -> None:
    schema = {"properties": {"day": {"type": "string", "format": "date"}, "at": {"type": "string", "format": "time"},
                             "email": {"type": "string", "format": "email"}}}
    assert fill(schema, ["on 3 March 1985 at 7:30 pm, write to sam@example.com"], {}, []).args == {"day": "1985-03-03", "at": "19:30", "email": "sam@example.com"}


def test_a_record_in_a_tool_output_is_picked_by_the_users_words() -> None:
    outputs = [{"showings": [{"showing_id": "SH-301", "time": "18:00"}, {"showing_id": "SH-302", "time": "20:30"}]}]
    assert fill({"properties": {"showing_id": {"type": "string"}}}, ["the 8:30 pm one"], {}, outputs).args == {"showing_id": "SH-302"}
    assert normalise_numbers("one two three") == "123"


def test_ranking_reaches_descriptions_through_everyday_synonyms() -> None:
    documents = {"tickets": "Finds film showings and books cinema seats.", "refunds": "Cancels bookings and refunds tickets."}
    assert rank("can I get my money back?", documents)[0].name == "refunds"
    assert rank("is there a movie on tonight?", documents)[0].name == "tickets"
    assert rank("hmm", documents)[0].score == 0


def test_a_handoff_wins_only_when_the_target_fits_better_than_the_agents_own_tools() -> None:
    tools = (tool("lookup_products", "Find products by name or description.", {"query": {"type": "string"}}),
             tool("transfer_to_support", "Solves technical problems using the knowledge base.", {"reason": {"type": "string"}}))
    turn = Turn("please transfer me to technical support", "You are sales.", frozenset(t["name"] for t in tools), tool_specs=tools)
    decision = decide_explained(NO_RULES, turn)
    assert decision.outputs == (Call("transfer_to_support", json.dumps({"reason": "please transfer me to technical support"})),)
    assert decision.why.startswith("handed off to support: 'technical', 'support' matched its description")
    turn = Turn("do you sell anything like a gaming notebook?", "You are sales.", frozenset(t["name"] for t in tools), tool_specs=tools)
    assert decide_explained(NO_RULES, turn).outputs[0].name == "lookup_products"


def test_a_missing_argument_is_asked_for_and_the_answer_fills_it() -> None:
    order = tool("place_order", "Place a delivery order for pizzas.", {
        "size": {"type": "string", "enum": ["small", "large"]}, "address": {"type": "string", "description": "The delivery address."}}, ["size", "address"])
    first = Turn("a large pizza delivered please", "You are the order desk.", frozenset({"place_order"}), tool_specs=(order,),
                 user_texts=("a large pizza delivered please",))
    assert decide_explained(NO_RULES, first).outputs == (Say("Could you tell me the delivery address?"),)
    answer = Turn("It's 12 Baker Street.", "You are the order desk.", frozenset({"place_order"}), tool_specs=(order,),
                  user_texts=("a large pizza delivered please", "It's 12 Baker Street."), last_assistant="Could you tell me the delivery address?")
    assert decide_explained(NO_RULES, answer).outputs == (Call("place_order", json.dumps({"size": "large", "address": "12 Baker Street"})),)


def test_nothing_fitting_gets_the_default_reply_with_the_reason() -> None:
    tools = (tool("show_menu", "The pizzas on the menu.", {}),)
    decision = decide_explained(NO_RULES, Turn("hmm", "You are the desk.", frozenset({"show_menu"}), tool_specs=tools))
    assert decision.outputs == (Say(NO_RULES.default),)
    assert decision.why == "nothing fits 'hmm': no tool or handoff description shares a word with it; said the default reply"


def test_greetings_questions_and_outputs_in_plain_words() -> None:
    assert greeting("You are Tony's Pizza on the phone. Be brief.") == "Hello, this is Tony's Pizza on the phone. How can I help?"
    assert greeting("Greet the caller.") == "Hello! Greet the caller. How can I help?"
    assert ask_for("size", {"type": "string", "enum": ["small", "large"], "description": "The pizza size."}) == "Could you tell me the pizza size? It can be small or large."
    assert ask_for("customer_id", {"type": "string"}) == "Could you tell me your customer id?"
    assert describe_output({"blocked": True, "cards": [{"id": "C-1", "last": "4821"}]}) == "Here is what I found: blocked yes, 1 cards: C-1, 4821."
    assert describe_output({"error": "No such invoice."}) == "Sorry, that did not work: No such invoice."


def test_instruction_sentences_naming_a_tool_say_when_to_use_it_and_known_values_must_fit_the_enum() -> None:
    tools = (tool("search_knowledge_base", "Full-text search.", {"query": {"type": "string"}, "category": {"type": "string", "enum": ["hardware", "software"]}}, ["query"]),
             tool("lookup_user_profile", "A customer's profile and products.", {"customer_id": {"type": "string"}}, ["customer_id"]))
    instructions = "You are support. Search the knowledge base before answering a technical question."
    turn = Turn("I have a technical question", instructions, frozenset(t["name"] for t in tools), tool_specs=tools,
                facts={"customer_id": "CUST-1", "category": "laptops"})
    assert decide_explained(NO_RULES, turn).outputs == (Call("search_knowledge_base", json.dumps({"query": "I have a technical question"})),)
