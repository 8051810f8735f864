"""Who is calling: verify a caller by phone (and email), and read their profile."""

from __future__ import annotations

import sqlite3
from typing import Any

from . import arguments
from .arguments import BadArgument, reports_bad_arguments
from .db import connect, from_timestamp

CUSTOMER_ID_EXAMPLE = "CUST-1001"


def customer_id_argument(value: Any, name: str = "customer_id") -> str:
    return arguments.identifier(name, value, "CUST", CUSTOMER_ID_EXAMPLE)


def existing_customer(connection: sqlite3.Connection, customer_id: str) -> sqlite3.Row:
    """The customer's row; an unknown id is a bad argument the model can correct."""
    row = connection.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
    if row is None:
        raise BadArgument(f"No customer with id {customer_id}.")
    return row


@reports_bad_arguments
def authenticate_user(phone: str, email: str | None = None, context: Any = None) -> dict[str, Any]:
    """Find the account with this phone number; when an email is given it must match too."""
    phone = arguments.phone("phone", phone)
    email = arguments.optional_text("email", email)
    with connect(context) as connection:
        customer = connection.execute("SELECT * FROM customers WHERE phone = ?", (phone,)).fetchone()
    if customer is None:
        return {"authenticated": False, "reason": f"No account has the phone number {phone}."}
    if email is not None and email.casefold() != customer["email"].casefold():
        return {"authenticated": False, "reason": f"The email address does not match the account for {phone}."}
    return {
        "authenticated": True,
        "customer_id": customer["id"],
        "name": customer["name"],
        "tier": customer["tier"],
        "verified_by": "phone and email" if email is not None else "phone",
    }


@reports_bad_arguments
def lookup_user_profile(customer_id: str, context: Any = None) -> dict[str, Any]:
    """The customer's contact details, tier, the products they own and their open tickets."""
    customer_id = customer_id_argument(customer_id)
    with connect(context) as connection:
        customer = existing_customer(connection, customer_id)
        products = connection.execute(
            "SELECT p.id AS product_id, p.name, p.category, cp.purchased_on FROM customer_products cp"
            " JOIN products p ON p.id = cp.product_id WHERE cp.customer_id = ? ORDER BY cp.purchased_on DESC",
            (customer_id,),
        ).fetchall()
        tickets = connection.execute(
            "SELECT id, subject, priority, created_at, due_at FROM tickets"
            " WHERE customer_id = ? AND status = 'open' ORDER BY number",
            (customer_id,),
        ).fetchall()
    return {
        "customer_id": customer["id"],
        "name": customer["name"],
        "phone": customer["phone"],
        "email": customer["email"],
        "tier": customer["tier"],
        "member_since": customer["member_since"],
        "products": [dict(product) for product in products],
        "open_tickets": [
            {
                "ticket_id": ticket["id"],
                "subject": ticket["subject"],
                "priority": ticket["priority"],
                "opened_on": from_timestamp(ticket["created_at"]).date().isoformat(),
                "due_by": ticket["due_at"],
            }
            for ticket in tickets
        ],
    }
