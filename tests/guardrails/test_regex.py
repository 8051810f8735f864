"""Regex policies: the example's competitor and promise rules, word lists, incremental scanning."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.config.model import Guardrail, RegexPattern
from runner.guardrails import GuardrailChecker, RegexPolicy, Verdict, pattern_problem


def check(policies: dict[str, Guardrail], name: str, text: str, *, final: bool = True) -> Verdict:
    return asyncio.run(GuardrailChecker(policies).check(name, text, final=final))


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("Honestly, Globex makes a similar laptop.", "Globex"),
        ("I think hooli sells those.", "hooli"),
        ("Umbrella Corp has one too.", "Umbrella Corp"),
        ("You could ask Umbrella  \n corp about it.", "Umbrella  \n corp"),
        ("Compared with Initech, we are cheaper.", "Initech"),
    ],
)
def test_competitor_words_trip_with_their_category_and_quote(example_regex_policies, text, matched):
    assert check(example_regex_policies, "competitor_mentions", text) == Verdict(
        tripped=True, category="competitor", rationale=f'matched "{matched}"'
    )


@pytest.mark.parametrize(
    "text",
    [
        "Our TechCorp laptops are in stock.",
        "The Hooligans were loud at the game.",  # a competitor's name inside a longer word
        "An umbrella is useful in the rain.",  # one word of a phrase alone
        "Globexian is not a word we use.",
    ],
)
def test_text_without_a_whole_competitor_word_passes(example_regex_policies, text):
    assert check(example_regex_policies, "competitor_mentions", text) == Verdict(tripped=False)


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("I guarantee the refund will go through.", "guarantee"),
        ("That is GUARANTEED to work.", "GUARANTEED"),
        ("It works 100% of the time.", "100%"),
        ("It works 100 % of the time.", "100 %"),
        ("I am a hundred percent sure.", "hundred percent"),
    ],
)
def test_unauthorised_promises_trip(example_regex_policies, text, matched):
    assert check(example_regex_policies, "unauthorised_promises", text) == Verdict(
        tripped=True, category="promise", rationale=f'matched "{matched}"'
    )


@pytest.mark.parametrize("text", ["Refunds depend on the policy.", "We sold 1000% more this year.", "The guarantor signed."])
def test_text_without_a_promise_passes(example_regex_policies, text):
    assert check(example_regex_policies, "unauthorised_promises", text) == Verdict(tripped=False)


def test_the_earliest_match_decides_the_category():
    policy = Guardrail(
        name="mixed",
        kind="regex",
        patterns=(RegexPattern(r"\brefund\b", "money"),),
        words={"rude": ("whatever",)},
    )
    assert check({"mixed": policy}, "mixed", "Whatever, a refund it is.") == Verdict(
        tripped=True, category="rude", rationale='matched "Whatever"'
    )


def test_word_entries_with_punctuation_still_need_word_edges():
    policy = Guardrail(name="langs", kind="regex", words={"language": ("C++", "100%")})
    assert check({"langs": policy}, "langs", "We rewrote it in C++.").category == "language"
    assert check({"langs": policy}, "langs", "It is 100% done.").category == "language"
    assert check({"langs": policy}, "langs", "We use C++x and 2100%.").tripped is False


def test_a_match_at_the_end_of_a_streaming_text_waits_for_the_next_delta(example_regex_policies):
    checker = GuardrailChecker(example_regex_policies)

    async def stream() -> list[Verdict]:
        return [
            await checker.check("competitor_mentions", "Ask the Hooli", final=False),
            await checker.check("competitor_mentions", "Ask the Hooligans", final=False),
            await checker.check("competitor_mentions", "Ask the Hooligans about Hooli", final=False),
            await checker.check("competitor_mentions", "Ask the Hooligans about Hooli", final=True),
        ]

    assert asyncio.run(stream()) == [
        Verdict(tripped=False),
        Verdict(tripped=False),
        Verdict(tripped=False),
        Verdict(tripped=True, category="competitor", rationale='matched "Hooli"'),
    ]


def test_a_settled_match_trips_a_streaming_check(example_regex_policies):
    assert check(example_regex_policies, "competitor_mentions", "Ask Hooli.", final=False).tripped is True


def test_checks_of_a_growing_text_find_a_match_split_across_deltas(example_regex_policies):
    checker = GuardrailChecker(example_regex_policies)
    reply = "Our plans are flexible and " * 8 + "I can guarantee that you will love it."
    split = reply.index("guarantee") + 4  # "guar" | "antee"

    async def stream() -> list[Verdict]:
        return [
            await checker.check("unauthorised_promises", reply[:split], final=False),
            await checker.check("unauthorised_promises", reply, final=False),
        ]

    first, second = asyncio.run(stream())
    assert first == Verdict(tripped=False)
    assert second == Verdict(tripped=True, category="promise", rationale='matched "guarantee"')


_WORDS = st.sampled_from(["Globex", "Umbrella", "Corp", "guarantee", "100", "%", "hooli", "gans", "we", "sell", " ", "  ", ".", "\n"])


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_WORDS, min_size=1, max_size=40), cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=8))
def test_incremental_scanning_finds_what_a_full_scan_finds(example_regex_policies, pieces, cuts):
    """Resuming from the scanned prefix never misses or invents a hit, wherever the deltas split."""
    text = "".join(pieces)
    prefixes = sorted({min(cut, len(text)) for cut in cuts} | {len(text)})
    for name in ("competitor_mentions", "unauthorised_promises"):
        policy = RegexPolicy(example_regex_policies[name])
        scanned = 0
        for end in prefixes:
            final = end == len(text)
            incremental = policy.find(text[:end], scanned=scanned, settled_only=not final)
            assert incremental == policy.find(text[:end], settled_only=not final)
            if incremental is not None:
                break
            scanned = end


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("guarantee(", "invalid regular expression: missing ), unterminated subpattern at position 9"),
        ("(a+)+b", "has an unbounded repetition inside another (like '(a+)+'), which can take exponential time"),
        (r"x(\w+\s?)*$", "has an unbounded repetition inside another (like '(a+)+'), which can take exponential time"),
        ("x*", "matches the empty string, so it would trip on every text"),
    ],
)
def test_unusable_patterns_are_named(pattern, problem):
    assert pattern_problem(pattern) == problem


@pytest.mark.parametrize("pattern", [r"\bguarantee(d|s)?\b", r"\b100\s?%|\bhundred percent\b", r"(ab){1,3}c+"])
def test_ordinary_patterns_are_accepted(pattern):
    assert pattern_problem(pattern) is None


def test_a_policy_with_an_unusable_pattern_is_refused_with_its_name():
    policy = Guardrail(name="promises", kind="regex", patterns=(RegexPattern("(a+)+", "promise"),))
    with pytest.raises(ValueError) as raised:
        GuardrailChecker({"promises": policy})
    assert str(raised.value) == (
        "guardrail 'promises': pattern '(a+)+' has an unbounded repetition inside another (like '(a+)+'), "
        "which can take exponential time"
    )


def test_an_empty_word_list_entry_is_refused():
    policy = Guardrail(name="rivals", kind="regex", words={"competitor": ("Globex", " ")})
    with pytest.raises(ValueError, match=r"^guardrail 'rivals': word list 'competitor' is empty or has an empty entry$"):
        RegexPolicy(policy)


def test_a_regex_policy_needs_a_rule():
    with pytest.raises(ValueError, match=r"^guardrail 'nothing': a regex policy needs at least one pattern or word list$"):
        RegexPolicy(Guardrail(name="nothing", kind="regex"))


def test_an_unknown_policy_is_an_error_verdict_not_an_exception(example_regex_policies):
    assert check(example_regex_policies, "no_such_policy", "hello") == Verdict(
        tripped=False, error="unknown guardrail policy 'no_such_policy'"
    )


def test_a_phrase_allows_up_to_sixteen_whitespace_characters_between_its_words(example_regex_policies):
    assert check(example_regex_policies, "competitor_mentions", "Umbrella" + " " * 16 + "Corp").tripped is True
    assert check(example_regex_policies, "competitor_mentions", "Umbrella" + " " * 17 + "Corp").tripped is False


def test_a_text_that_does_not_continue_the_last_one_is_scanned_from_its_start(example_regex_policies):
    checker = GuardrailChecker(example_regex_policies)
    long_clean_reply = "Your order is on its way. " * 10

    async def two_replies() -> list[Verdict]:
        return [
            await checker.check("competitor_mentions", long_clean_reply, final=False),
            await checker.check("competitor_mentions", "Globex? " + long_clean_reply, final=False),
        ]

    assert asyncio.run(two_replies()) == [
        Verdict(tripped=False),
        Verdict(tripped=True, category="competitor", rationale='matched "Globex"'),
    ]


def test_user_and_assistant_texts_are_tracked_apart(example_regex_policies):
    checker = GuardrailChecker(example_regex_policies)
    reply = "Your order is on its way. " * 10

    async def interleaved() -> list[bool]:
        return [
            (await checker.check("competitor_mentions", reply, role="assistant", final=False)).tripped,
            (await checker.check("competitor_mentions", "Is Hooli cheaper?", role="user")).tripped,
            (await checker.check("competitor_mentions", reply + "Hooli is not us.", role="assistant")).tripped,
        ]

    assert asyncio.run(interleaved()) == [False, True, True]
