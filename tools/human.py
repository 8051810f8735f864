"""Escalation to a person: record a callback request and say when the call will come."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import arguments
from .arguments import reports_bad_arguments
from .auth import customer_id_argument, existing_customer
from .db import connect, to_timestamp, utc_now

# Staffed hours, as agents.yaml's `support_hours` tells callers: 8am to 8pm Eastern, Monday to Saturday.
STAFF_TIME_ZONE = ZoneInfo("America/New_York")
OPENS = time(8)
CLOSES = time(20)
STAFFED_WEEKDAYS = range(0, 6)
CALLBACK_WITHIN = timedelta(hours=2)


def callback_due(requested_at: datetime) -> datetime:
    """When the call back is due: two staffed hours after the request, so a request
    made at night or on Sunday counts from the next opening."""
    remaining = CALLBACK_WITHIN
    moment = requested_at.astimezone(STAFF_TIME_ZONE)
    while True:
        day = moment.date()
        opens = datetime.combine(day, OPENS, STAFF_TIME_ZONE)
        closes = datetime.combine(day, CLOSES, STAFF_TIME_ZONE)
        if day.weekday() in STAFFED_WEEKDAYS and moment < closes:
            start = max(moment, opens)
            if start + remaining <= closes:
                return start + remaining
            remaining -= closes - start
        moment = datetime.combine(day + timedelta(days=1), time(0), STAFF_TIME_ZONE)


@reports_bad_arguments
def request_callback(
    phone: str, reason: str, customer_id: str | None = None, preferred_time: str | None = None, context: Any = None
) -> dict[str, Any]:
    """Record that a colleague should call this number back, and when to expect it."""
    phone = arguments.phone("phone", phone)
    reason = arguments.text("reason", reason)
    if customer_id is not None:
        customer_id = customer_id_argument(customer_id)
    preferred_time = arguments.optional_text("preferred_time", preferred_time)
    requested_at = utc_now()
    due_at = callback_due(requested_at)
    with connect(context, write=True) as connection:
        if customer_id is not None:
            existing_customer(connection, customer_id)
        callback_id = connection.execute(
            "INSERT INTO callbacks (phone, reason, customer_id, preferred_time, requested_at, due_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (phone, reason, customer_id, preferred_time, to_timestamp(requested_at), to_timestamp(due_at)),
        ).fetchone()["id"]
    local_due = due_at.astimezone(STAFF_TIME_ZONE)
    clock = local_due.strftime("%I:%M %p").lstrip("0")
    expect = f"by {clock} Eastern on {local_due:%A, %B} {local_due.day}"
    if preferred_time is not None:
        expect = f"at the caller's preferred time ({preferred_time}) when staff are available, otherwise {expect}"
    return {
        "callback_id": callback_id,
        "phone": phone,
        "reason": reason,
        "customer_id": customer_id,
        "preferred_time": preferred_time,
        "expect_call": expect,
        "due_by": to_timestamp(due_at),
    }
