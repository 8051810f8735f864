"""search_knowledge_base (FTS5 + bm25) and create_support_ticket."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tools.db import initialise
from tools.support import create_support_ticket, fts_query, resolution_due, search_knowledge_base


def titles(result: dict) -> list[str]:
    return [article["title"] for article in result["results"]]


@pytest.mark.parametrize("query", ["wifi disconnecting", "wi-fi keeps dropping", "WiFi DISCONNECTS"])
def test_wifi_article_ranks_first(query: str) -> None:
    result = search_knowledge_base(query)
    assert titles(result)[0] == "Wi-Fi keeps disconnecting"
    first = result["results"][0]
    assert first["article_id"] == "KB-101"
    assert first["category"] == "connectivity"
    assert first["content"].startswith("If your device drops off Wi-Fi")


def test_results_are_ordered_by_score_and_limited() -> None:
    result = search_knowledge_base("laptop battery fan screen", limit=3)
    scores = [article["score"] for article in result["results"]]
    assert len(scores) == 3
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > 0


def test_title_match_outranks_body_mention() -> None:
    assert titles(search_knowledge_base("refund"))[0] == "Refund policy"


def test_category_filter_keeps_only_that_category() -> None:
    everywhere = search_knowledge_base("update", limit=10)
    assert {article["category"] for article in everywhere["results"]} > {"software"}
    billing_only = search_knowledge_base("update", category="billing", limit=10)
    assert titles(billing_only) == ["Update your payment method"]


def test_snippet_is_the_matching_passage() -> None:
    (article,) = search_knowledge_base("reset link spam folder", limit=1)["results"]
    assert article["title"] == "Reset your account password"
    assert "spam" in article["snippet"]
    assert len(article["snippet"]) < len(article["content"])


def test_no_match_gives_an_empty_list() -> None:
    assert search_knowledge_base("submarine periscope torpedo") == {
        "query": "submarine periscope torpedo",
        "category": None,
        "results": [],
    }


@pytest.mark.parametrize(
    "query", ['"unbalanced', "wifi*", "NEAR(wifi router)", "wifi OR -", "password AND (reset", "col:wifi", "^wifi", "wi-fi's {drops}"]
)
def test_fts_syntax_in_the_query_is_matched_literally(query: str) -> None:
    result = search_knowledge_base(query)
    assert "error" not in result
    assert isinstance(result["results"], list)


def test_fts_query_quotes_each_word_and_drops_stop_words() -> None:
    assert fts_query('Why does my "Wi-Fi" drop* OR NEAR?') == '"wi" OR "fi" OR "drop" OR "near"'


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"query": ""}, "query must not be empty."),
        ({"query": "?!*"}, 'query "?!*" has no words to search for; describe the problem in a few words.'),
        ({"query": "how do I"}, 'query "how do I" has no words to search for; describe the problem in a few words.'),
        ({"query": 42}, "query must be a string, got 42."),
        ({"query": "wifi", "category": "gaming"}, 'category must be one of connectivity, account, hardware, software, billing, got "gaming".'),
        ({"query": "wifi", "limit": 0}, "limit must be between 1 and 10, got 0."),
        ({"query": "wifi", "limit": 11}, "limit must be between 1 and 10, got 11."),
        ({"query": "wifi", "limit": "3"}, 'limit must be a whole number, got "3".'),
        ({"query": "wifi", "limit": True}, "limit must be a whole number, got true."),
    ],
)
def test_bad_arguments_to_search_knowledge_base(arguments: dict, message: str) -> None:
    assert search_knowledge_base(**arguments) == {"error": message}


def test_ticket_is_persisted_with_its_due_time(db_query) -> None:
    result = create_support_ticket("CUST-1002", "  Phone will not charge ", "Tried two cables.", "urgent")
    assert result["ticket_id"].startswith("TKT-")
    assert result["estimated_resolution"] == "within 4 hours"
    assert result["status"] == "open"
    assert result["subject"] == "Phone will not charge"
    (row,) = db_query(
        "SELECT customer_id, subject, description, priority, status, created_at, due_at FROM tickets WHERE id = ?",
        result["ticket_id"],
    )
    customer_id, subject, description, priority, status, created_at, due_at = row
    assert (customer_id, subject, description, priority, status) == ("CUST-1002", "Phone will not charge", "Tried two cables.", "urgent", "open")
    assert datetime.fromisoformat(due_at) - datetime.fromisoformat(created_at) == timedelta(hours=4)
    assert due_at == result["due_by"]


def test_ticket_ids_are_unique_and_increasing() -> None:
    first = create_support_ticket("CUST-1001", "A", "a", "low")["ticket_id"]
    second = create_support_ticket("CUST-1001", "B", "b", "low")["ticket_id"]
    assert first < second


@pytest.mark.parametrize(
    ("priority", "estimate"),
    [("high", "within 1 business day"), ("medium", "within 3 business days"), ("low", "within 5 business days")],
)
def test_each_priority_has_an_estimate(priority: str, estimate: str) -> None:
    assert create_support_ticket("CUST-1001", "Subject", "Details", priority)["estimated_resolution"] == estimate


FRIDAY_NOON = datetime(2025, 6, 6, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("priority", "due"),
    [
        ("urgent", datetime(2025, 6, 6, 16, 0, tzinfo=timezone.utc)),
        ("high", datetime(2025, 6, 9, 12, 0, tzinfo=timezone.utc)),  # Friday + 1 business day = Monday
        ("medium", datetime(2025, 6, 11, 12, 0, tzinfo=timezone.utc)),
        ("low", datetime(2025, 6, 13, 12, 0, tzinfo=timezone.utc)),
    ],
)
def test_business_days_skip_the_weekend(priority: str, due: datetime) -> None:
    assert resolution_due(priority, FRIDAY_NOON) == due


def test_a_sunday_ticket_counts_from_monday() -> None:
    sunday = datetime(2025, 6, 8, 9, 0, tzinfo=timezone.utc)
    assert resolution_due("high", sunday) == datetime(2025, 6, 9, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"customer_id": "CUST-9999"}, "No customer with id CUST-9999."),
        ({"customer_id": "alex"}, 'customer_id must look like CUST-1001, got "alex".'),
        ({"subject": "   "}, "subject must not be empty."),
        ({"description": None}, "description must be a string, got null."),
        ({"description": "x" * 4001}, "description is too long (4001 characters, at most 4000)."),
        ({"priority": "critical"}, 'priority must be one of low, medium, high, urgent, got "critical".'),
        ({"priority": "HIGH"}, 'priority must be one of low, medium, high, urgent, got "HIGH".'),
    ],
)
def test_bad_arguments_to_create_support_ticket(arguments: dict, message: str, db_query) -> None:
    initialise()
    valid = {"customer_id": "CUST-1001", "subject": "Broken", "description": "It broke.", "priority": "low"}
    assert create_support_ticket(**{**valid, **arguments}) == {"error": message}
    assert db_query("SELECT count(*) FROM tickets") == [(2,)]  # only the seeded ones
