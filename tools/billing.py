"""Billing: invoices and refund requests decided by the refund policy."""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from . import arguments
from .arguments import BadArgument, reports_bad_arguments
from .auth import customer_id_argument, existing_customer
from .db import connect, from_cents, from_timestamp, to_cents, to_timestamp, utc_now

DEFAULT_REFUND_WINDOW_DAYS = 30
PAYOUT_NOTE = "The money reaches the original payment method within 5 to 10 business days."


def refund_window_days(context: Any = None) -> int:
    """Days after the invoice date a refund may be approved.

    Under the runner, the config's `refund_window_days` variable (the same value the
    billing agent's instructions quote) decides; otherwise $REFUND_WINDOW_DAYS, else 30.
    """
    from_config = getattr(context, "variables", {}).get("refund_window_days")
    if isinstance(from_config, int) and not isinstance(from_config, bool) and from_config >= 0:
        return from_config
    configured = os.environ.get("REFUND_WINDOW_DAYS")
    if configured is None:
        return DEFAULT_REFUND_WINDOW_DAYS
    if not configured.strip().isdigit():
        raise BadArgument(f"REFUND_WINDOW_DAYS must be a whole number of days, got {arguments.shown(configured)}.")
    return int(configured)


def invoice_id_argument(value: Any) -> str:
    return arguments.identifier("invoice_id", value, "INV", "INV-2001")


def _refunded_cents(connection: sqlite3.Connection, invoice_id: str) -> int:
    return connection.execute(
        "SELECT coalesce(sum(refunded_cents), 0) FROM refunds WHERE invoice_id = ?", (invoice_id,)
    ).fetchone()[0]


def _invoice_view(connection: sqlite3.Connection, invoice: sqlite3.Row, window_days: int) -> dict[str, Any]:
    issued_at = from_timestamp(invoice["issued_at"])
    return {
        "invoice_id": invoice["id"],
        "date": issued_at.date().isoformat(),
        "description": invoice["description"],
        "amount": from_cents(invoice["amount_cents"]),
        "status": invoice["status"],
        "refunded_amount": from_cents(_refunded_cents(connection, invoice["id"])),
        "refund_deadline": (issued_at + timedelta(days=window_days)).date().isoformat(),
    }


@reports_bad_arguments
def lookup_invoice(customer_id: str, invoice_id: str | None = None, context: Any = None) -> dict[str, Any]:
    """One invoice of the customer's, or all of them newest first, with refund deadlines
    from the same window `request_refund` applies (`context`: the runner's ToolContext)."""
    customer_id = customer_id_argument(customer_id)
    if invoice_id is not None:
        invoice_id = invoice_id_argument(invoice_id)
    window_days = refund_window_days(context)
    with connect(context) as connection:
        existing_customer(connection, customer_id)
        if invoice_id is not None:
            invoice = connection.execute(
                "SELECT * FROM invoices WHERE id = ? AND customer_id = ?", (invoice_id, customer_id)
            ).fetchone()
            if invoice is None:
                raise BadArgument(f"No invoice {invoice_id} on the account of {customer_id}.")
            return _invoice_view(connection, invoice, window_days)
        invoices = connection.execute(
            "SELECT * FROM invoices WHERE customer_id = ? ORDER BY issued_at DESC", (customer_id,)
        ).fetchall()
        return {"customer_id": customer_id, "invoices": [_invoice_view(connection, row, window_days) for row in invoices]}


def refund_decision(
    invoice: sqlite3.Row, customer_id: str, requested_cents: int | None, refunded_cents: int, window_days: int, now: datetime
) -> tuple[int, str]:
    """The policy: (cents to refund, why).  Zero cents means the request is denied."""
    invoice_id = invoice["id"]
    issued_at = from_timestamp(invoice["issued_at"])
    remaining = invoice["amount_cents"] - refunded_cents
    if invoice["customer_id"] != customer_id:
        return 0, f"Invoice {invoice_id} is not on the account of {customer_id}."
    if invoice["status"] != "paid":
        return 0, f"Invoice {invoice_id} has not been paid, so there is nothing to refund."
    if now > issued_at + timedelta(days=window_days):
        return 0, (
            f"Invoice {invoice_id} is dated {issued_at.date().isoformat()}, more than {window_days} days ago;"
            f" refunds are possible within {window_days} days of the invoice date."
        )
    if remaining <= 0:
        return 0, f"Invoice {invoice_id} has already been refunded in full."
    if requested_cents is not None and requested_cents > remaining:
        return 0, (
            f"The requested {from_cents(requested_cents):.2f} is more than the {from_cents(remaining):.2f}"
            f" still refundable on invoice {invoice_id}."
        )
    granted = remaining if requested_cents is None else requested_cents
    return granted, f"Refund of {from_cents(granted):.2f} approved within the {window_days}-day refund window."


@reports_bad_arguments
def request_refund(
    customer_id: str, invoice_id: str, reason: str, amount: float | None = None, context: Any = None
) -> dict[str, Any]:
    """Decide a refund under the policy (the customer's own paid invoice, inside the
    refund window, not more than is left to refund) and record the request either way.

    `context` is the runner's ToolContext when called by the runner (not a model-facing
    parameter): it carries the config's variables.
    """
    customer_id = customer_id_argument(customer_id)
    invoice_id = invoice_id_argument(invoice_id)
    reason = arguments.text("reason", reason)
    requested_cents = None if amount is None else to_cents(arguments.positive_amount("amount", amount))
    window_days = refund_window_days(context)
    now = utc_now()
    with connect(context, write=True) as connection:
        existing_customer(connection, customer_id)
        invoice = connection.execute("SELECT * FROM invoices WHERE id = ?", (invoice_id,)).fetchone()
        if invoice is None:
            raise BadArgument(f"No invoice with id {invoice_id}.")
        granted_cents, why = refund_decision(
            invoice, customer_id, requested_cents, _refunded_cents(connection, invoice_id), window_days, now
        )
        decision = "approved" if granted_cents else "denied"
        refund_id = connection.execute(
            "INSERT INTO refunds (customer_id, invoice_id, requested_cents, reason, decision, decision_reason,"
            " refunded_cents, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (customer_id, invoice_id, requested_cents, reason, decision, why, granted_cents, to_timestamp(now)),
        ).fetchone()["id"]
    result: dict[str, Any] = {
        "refund_id": refund_id,
        "invoice_id": invoice_id,
        "decision": decision,
        "decision_reason": why,
        "refund_amount": from_cents(granted_cents),
    }
    if granted_cents:
        result["payout"] = PAYOUT_NOTE
    return result
