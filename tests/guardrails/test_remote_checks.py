"""Moderation and classifier checks through the real AsyncOpenAI client against RestSimulator."""

from __future__ import annotations

import asyncio

import pytest
from openai import AsyncOpenAI

from runner.config.model import Guardrail
from runner.guardrails import GuardrailChecker, Verdict, classifier_instructions
from runner.sim.rest import Fault, RestSimulator

BRAND = "TechCorp's agents are friendly and talk only about TechCorp's products."


def moderation(**options) -> Guardrail:
    return Guardrail(name="safety", kind="moderation", **options)


def classifier(**options) -> Guardrail:
    return Guardrail(name="brand_voice", kind="classifier", instructions=BRAND, **options)


@pytest.fixture
def check_one(run_against_rest):
    """`check_one(policy, text)`: one check of `text` against a RestSimulator."""

    def check(policy: Guardrail, text: str) -> Verdict:
        async def scenario(checker, _rest):
            return await checker.check(policy.name, text)

        return run_against_rest({policy.name: policy}, scenario)

    return check


# --- moderation -------------------------------------------------------------------------------


def test_moderation_trips_on_a_flagged_category_and_names_the_score(check_one):
    assert check_one(moderation(), "I will kill you if you call again.") == Verdict(
        tripped=True, category="violence", rationale="violence scored 0.91 (flagged by the moderation endpoint)"
    )


def test_moderation_passes_ordinary_text(check_one):
    assert check_one(moderation(), "Your order ships tomorrow.") == Verdict(tripped=False)


def test_moderation_picks_the_highest_scoring_offending_category(check_one):
    verdict = check_one(moderation(), "You stupid idiot, I will punch the screen.")
    assert (verdict.category, verdict.rationale) == ("violence", "violence scored 0.91 (flagged by the moderation endpoint)")


def test_moderation_thresholds_decide_instead_of_the_flags(check_one):
    strict = moderation(thresholds={"harassment": 0.5})
    assert check_one(strict, "Don't be stupid.") == Verdict(
        tripped=True, category="harassment", rationale="harassment scored 0.82 (threshold 0.50)"
    )
    lenient = moderation(thresholds={"harassment": 0.9})
    assert check_one(lenient, "Don't be stupid.") == Verdict(tripped=False)


def test_moderation_ignores_flagged_categories_without_a_threshold(check_one):
    only_violence = moderation(thresholds={"violence": 0.5})
    assert check_one(only_violence, "Don't be stupid.") == Verdict(tripped=False)


def test_moderation_threshold_on_a_category_the_answer_lacks_is_a_malformed_answer(check_one):
    typo = moderation(thresholds={"violence_graphic": 0.5}, on_error="closed")
    assert check_one(typo, "hello") == Verdict(
        tripped=True, error="/v1/moderations gave a malformed answer: no score for category 'violence_graphic'"
    )


def test_moderation_request_carries_model_input_and_bearer_key(run_against_rest):
    async def scenario(checker, rest):
        await checker.check("safety", "Hello there")
        return rest.requests

    (request,) = run_against_rest({"safety": moderation()}, scenario)
    assert (request.method, request.path) == ("POST", "/v1/moderations")
    assert request.body == {"model": "omni-moderation-latest", "input": "Hello there"}
    assert request.headers["authorization"] == "Bearer sk-test"


# --- classifier -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category", "rationale"),
    [
        ("Honestly, Globex does it better.", "OFF_BRAND", "The text is about 'Globex', which is off brand."),
        ("Only an idiot would ask that.", "OFFENSIVE", "The text insults someone ('idiot')."),
        ("I could strangle the courier.", "VIOLENCE", "The text refers to violence ('strangle')."),
    ],
)
def test_classifier_trips_on_any_category_but_none(text, category, rationale, check_one):
    assert check_one(classifier(), text) == Verdict(tripped=True, category=category, rationale=rationale)


def test_classifier_passes_on_brand_text(check_one):
    assert check_one(classifier(), "Our laptops come with a two-year warranty.") == Verdict(tripped=False)


def test_classifier_only_answers_with_the_policy_categories(check_one):
    narrow = classifier(categories=("OFF_BRAND", "NONE"))
    assert check_one(narrow, "Only an idiot would ask that.") == Verdict(tripped=False)


def test_classifier_off_brand_topics_come_from_the_simulator_settings(run_against_rest):
    async def scenario(checker, _rest):
        return [await checker.check("brand_voice", text) for text in ("Try Acme Widgets.", "Try Globex.")]

    verdicts = run_against_rest({"brand_voice": classifier()}, scenario, off_brand_terms=["Acme Widgets"])
    assert verdicts == [
        Verdict(tripped=True, category="OFF_BRAND", rationale="The text is about 'Acme Widgets', which is off brand."),
        Verdict(tripped=False),
    ]


def test_classifier_request_uses_strict_structured_output_and_the_brand_instructions(run_against_rest):
    policy = classifier(categories=("OFFENSIVE", "OFF_BRAND"))

    async def scenario(checker, rest):
        await checker.check("brand_voice", "Welcome to TechCorp.")
        await checker.check("brand_voice", "Your service is bad.", role="user")
        return rest.requests

    assistant_request, user_request = run_against_rest({"brand_voice": policy}, scenario)
    assert assistant_request.path == "/v1/responses"
    assert assistant_request.body == {
        "model": "gpt-4.1-mini",
        "instructions": classifier_instructions(policy, "assistant"),
        "input": "Welcome to TechCorp.",
        "store": False,
        "text": {
            "format": {
                "type": "json_schema",
                "name": "guardrail_verdict",
                "schema": {
                    "type": "object",
                    "properties": {
                        "category": {"type": "string", "enum": ["OFFENSIVE", "OFF_BRAND", "NONE"]},
                        "rationale": {"type": "string"},
                    },
                    "required": ["category", "rationale"],
                    "additionalProperties": False,
                },
                "strict": True,
            }
        },
    }
    assert user_request.body["instructions"] == classifier_instructions(policy, "user")


def test_classifier_instructions_are_the_role_preamble_then_the_brand_rules():
    policy = classifier()
    assert classifier_instructions(policy, "assistant") == (
        "You review one thing a customer-service voice agent has just said to a caller, against the brand rules below. "
        "Answer with the category that fits it best (NONE when it is within the rules) and a one-sentence rationale."
        f"\n\nBrand rules:\n{BRAND}"
    )
    assert classifier_instructions(policy, "user").startswith(
        "You review one thing a caller has just said to a customer-service voice agent, against the brand rules below."
    )


# --- failures, under both on_error modes ----------------------------------------------------------

FAILURES = [
    pytest.param("moderations", Fault(delay=1.0), "/v1/moderations gave no answer within 0.2 s", id="moderation-slow"),
    pytest.param("responses", Fault(delay=1.0), "/v1/responses gave no answer within 0.2 s", id="classifier-slow"),
    pytest.param(
        "moderations", Fault(status=500), "/v1/moderations answered HTTP 500: Simulated failure (HTTP 500).", id="moderation-500"
    ),
    pytest.param(
        "responses", Fault(status=429), "/v1/responses answered HTTP 429: Simulated failure (HTTP 429).", id="classifier-429"
    ),
    pytest.param(
        "moderations",
        Fault(body=b"{not json"),
        "/v1/moderations gave a malformed answer: the body is not JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        id="moderation-not-json",
    ),
    pytest.param(
        "moderations",
        Fault(body=b'{"id": "modr-1", "model": "omni-moderation-latest", "results": []}'),
        "/v1/moderations gave a malformed answer: 'results' is not a non-empty list of objects",
        id="moderation-no-results",
    ),
    pytest.param(
        "responses",
        Fault(body=b'["not", "a", "response"]'),
        "/v1/responses gave a malformed answer: the body is a JSON list, not an object",
        id="classifier-list-body",
    ),
    pytest.param(
        "responses",
        Fault(output_text="OFF_BRAND because of Globex"),
        "/v1/responses gave a malformed answer: output_text is not JSON: 'OFF_BRAND because of Globex'",
        id="classifier-prose",
    ),
    pytest.param(
        "responses",
        Fault(output_text='{"category": "RUDE", "rationale": "x"}'),
        "/v1/responses gave a malformed answer: category 'RUDE' is not one of OFFENSIVE, OFF_BRAND, VIOLENCE, NONE",
        id="classifier-unknown-category",
    ),
]


@pytest.mark.parametrize("on_error", ["open", "closed"])
@pytest.mark.parametrize(("endpoint", "fault", "error"), FAILURES)
def test_a_failed_check_applies_on_error(on_error, endpoint, fault, error, run_against_rest):
    kind = moderation if endpoint == "moderations" else classifier
    policy = kind(on_error=on_error, timeout=0.2)

    async def scenario(checker, rest):
        rest.set_fault(endpoint, fault)
        return await checker.check(policy.name, "Our laptops come with a two-year warranty.")

    assert run_against_rest({policy.name: policy}, scenario) == Verdict(tripped=on_error == "closed", error=error)


@pytest.mark.parametrize("on_error", ["open", "closed"])
def test_an_unreachable_endpoint_applies_on_error(on_error):
    policy = moderation(on_error=on_error)

    async def scenario():
        rest = RestSimulator()
        await rest.start()
        base_url = rest.base_url
        await rest.close()  # nothing listens on that port any more
        async with GuardrailChecker({"safety": policy}, client_factory=lambda: AsyncOpenAI(base_url=base_url, api_key="sk-test")) as checker:
            return await checker.check("safety", "hello")

    verdict = asyncio.run(scenario())
    assert verdict.tripped is (on_error == "closed")
    assert verdict.error.startswith("/v1/moderations could not be reached: ")


def test_a_check_recovers_once_the_fault_is_cleared(run_against_rest):
    async def scenario(checker, rest):
        rest.set_fault("moderations", Fault(status=503))
        failed = await checker.check("safety", "I will kill you")
        rest.set_fault("moderations", None)
        return failed, await checker.check("safety", "I will kill you")

    failed, recovered = run_against_rest({"safety": moderation()}, scenario)
    assert failed.error == "/v1/moderations answered HTTP 503: Simulated failure (HTTP 503)."
    assert recovered.category == "violence"


# --- concurrency and the client's lifecycle ------------------------------------------------------------


def test_concurrent_checks_do_not_serialise(run_against_rest):
    policies = {"safety": moderation(), "brand_voice": classifier()}
    texts = ["I will kill you", "Nice weather", "Globex is great", "You idiot", "Our warranty is two years"]

    async def scenario(checker, rest):
        rest.set_fault("moderations", Fault(delay=0.3))
        rest.set_fault("responses", Fault(delay=0.3))
        checks = [checker.check(name, text) for name in policies for text in texts]
        return await asyncio.gather(*checks), rest.max_in_flight

    verdicts, max_in_flight = run_against_rest(policies, scenario)
    assert max_in_flight == 10  # every request was waiting on the server at the same time
    assert [verdict.category for verdict in verdicts] == [
        "violence", None, None, "harassment", None,
        "VIOLENCE", None, "OFF_BRAND", "OFFENSIVE", None,
    ]  # fmt: skip


def test_the_client_is_made_once_on_the_first_http_check_and_closed(example_regex_policies):
    made: list[AsyncOpenAI] = []

    async def scenario():
        async with RestSimulator() as rest:

            def factory() -> AsyncOpenAI:
                made.append(AsyncOpenAI(base_url=rest.base_url, api_key="sk-test"))
                return made[-1]

            policies = {**example_regex_policies, "safety": moderation()}
            async with GuardrailChecker(policies, client_factory=factory) as checker:
                await checker.check("competitor_mentions", "Globex")
                before_http = len(made)
                await checker.check("safety", "hello")
                await checker.check("safety", "hello again")
            return before_http

    assert asyncio.run(scenario()) == 0
    assert len(made) == 1
    assert made[0].is_closed()


def test_an_http_policy_without_a_client_factory_is_refused():
    with pytest.raises(ValueError) as raised:
        GuardrailChecker({"brand_voice": classifier()})
    assert str(raised.value) == "guardrail 'brand_voice' calls the OpenAI API, so GuardrailChecker needs a client_factory"
