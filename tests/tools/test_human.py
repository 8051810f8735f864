"""request_callback and when the call back is due."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from tools.db import initialise
from tools.human import callback_due, request_callback

EASTERN = ZoneInfo("America/New_York")


def test_callback_is_persisted(db_query) -> None:
    result = request_callback("(555) 123-4567", "Wants to discuss a repair", customer_id="CUST-1001")
    assert result["callback_id"] == "CB-00001"
    assert result["expect_call"].startswith("by ")
    assert result["expect_call"].split(" Eastern on ")[1].split(",")[0] in {
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"
    }
    assert db_query("SELECT id, phone, reason, customer_id, preferred_time, due_at FROM callbacks") == [
        ("CB-00001", "(555) 123-4567", "Wants to discuss a repair", "CUST-1001", None, result["due_by"]),
    ]


def test_preferred_time_is_recorded_and_repeated(db_query) -> None:
    result = request_callback("(555) 987-6543", "Billing dispute", preferred_time="tomorrow after 3pm")
    assert result["customer_id"] is None
    assert result["expect_call"].startswith("at the caller's preferred time (tomorrow after 3pm) when staff are available, otherwise by ")
    assert db_query("SELECT preferred_time, customer_id FROM callbacks") == [("tomorrow after 3pm", None)]


def eastern(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=EASTERN)


@pytest.mark.parametrize(
    ("requested", "due"),
    [
        (eastern(2025, 6, 4, 10), eastern(2025, 6, 4, 12)),  # Wednesday morning: two hours later
        (eastern(2025, 6, 4, 19), eastern(2025, 6, 5, 9)),  # one hour left today, one tomorrow
        (eastern(2025, 6, 4, 22), eastern(2025, 6, 5, 10)),  # after closing
        (eastern(2025, 6, 4, 6), eastern(2025, 6, 4, 10)),  # before opening
        (eastern(2025, 6, 7, 19, 30), eastern(2025, 6, 9, 9, 30)),  # Saturday evening: Sunday is closed
        (eastern(2025, 6, 8, 12), eastern(2025, 6, 9, 10)),  # Sunday
    ],
)
def test_callback_due_counts_staffed_hours(requested: datetime, due: datetime) -> None:
    assert callback_due(requested) == due


def test_callback_due_accepts_utc() -> None:
    assert callback_due(datetime(2025, 1, 15, 15, 0, tzinfo=timezone.utc)) == eastern(2025, 1, 15, 12)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"phone": "555 123 4567"}, 'phone must be in the form (555) 123-4567, got "555 123 4567".'),
        ({"phone": 5551234567}, "phone must be in the form (555) 123-4567, got 5551234567."),
        ({"reason": " "}, "reason must not be empty."),
        ({"reason": None}, "reason must be a string, got null."),
        ({"customer_id": "CUST-9999"}, "No customer with id CUST-9999."),
        ({"customer_id": "Alex"}, 'customer_id must look like CUST-1001, got "Alex".'),
        ({"preferred_time": ""}, "preferred_time must not be empty."),
        ({"preferred_time": 15}, "preferred_time must be a string, got 15."),
    ],
)
def test_bad_arguments_to_request_callback_are_not_recorded(arguments: dict, message: str, db_query) -> None:
    initialise()
    valid = {"phone": "(555) 123-4567", "reason": "Wants a person"}
    assert request_callback(**{**valid, **arguments}) == {"error": message}
    assert db_query("SELECT count(*) FROM callbacks") == [(0,)]
