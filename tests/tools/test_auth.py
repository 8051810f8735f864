"""authenticate_user and lookup_user_profile."""

from __future__ import annotations

import pytest

from tools.auth import authenticate_user, lookup_user_profile
from tools.support import create_support_ticket


def test_phone_alone_authenticates() -> None:
    assert authenticate_user("(555) 123-4567") == {
        "authenticated": True,
        "customer_id": "CUST-1001",
        "name": "Alex Morgan",
        "tier": "gold",
        "verified_by": "phone",
    }


def test_matching_email_is_compared_without_case() -> None:
    result = authenticate_user("(555) 987-6543", email=" Jordan.Lee@Example.com ")
    assert result["authenticated"] is True
    assert result["customer_id"] == "CUST-1002"
    assert result["verified_by"] == "phone and email"


def test_wrong_email_is_refused() -> None:
    assert authenticate_user("(555) 123-4567", email="jordan.lee@example.com") == {
        "authenticated": False,
        "reason": "The email address does not match the account for (555) 123-4567.",
    }


def test_unknown_phone_is_refused() -> None:
    assert authenticate_user("(555) 000-0000") == {
        "authenticated": False,
        "reason": "No account has the phone number (555) 000-0000.",
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"phone": "555-123-4567"}, 'phone must be in the form (555) 123-4567, got "555-123-4567".'),
        ({"phone": "(555)123-4567"}, 'phone must be in the form (555) 123-4567, got "(555)123-4567".'),
        ({"phone": 5551234567}, "phone must be in the form (555) 123-4567, got 5551234567."),
        ({"phone": None}, "phone must be in the form (555) 123-4567, got null."),
        ({"phone": "(555) 123-4567", "email": ""}, "email must not be empty."),
        ({"phone": "(555) 123-4567", "email": ["a@b.c"]}, 'email must be a string, got ["a@b.c"].'),
    ],
)
def test_bad_arguments_to_authenticate_user(arguments: dict, message: str) -> None:
    assert authenticate_user(**arguments) == {"error": message}


def test_profile_lists_products_and_only_open_tickets() -> None:
    ticket = create_support_ticket("CUST-1001", "Dock not detected", "The USB-C dock shows no displays.", "high")
    profile = lookup_user_profile("CUST-1001")
    assert {key: profile[key] for key in ("customer_id", "name", "phone", "email", "tier")} == {
        "customer_id": "CUST-1001",
        "name": "Alex Morgan",
        "phone": "(555) 123-4567",
        "email": "alex.morgan@example.com",
        "tier": "gold",
    }
    assert [product["product_id"] for product in profile["products"]] == ["PROD-013", "PROD-001", "PROD-010"]
    assert [open_ticket["subject"] for open_ticket in profile["open_tickets"]] == [
        "Laptop fan noisy under load",
        "Dock not detected",
    ]
    assert profile["open_tickets"][1]["ticket_id"] == ticket["ticket_id"]


def test_profile_id_is_case_insensitive() -> None:
    assert lookup_user_profile("cust-1002")["name"] == "Jordan Lee"


@pytest.mark.parametrize(
    ("customer_id", "message"),
    [
        ("CUST-9999", "No customer with id CUST-9999."),
        ("1001", 'customer_id must look like CUST-1001, got "1001".'),
        (1001, "customer_id must look like CUST-1001, got 1001."),
        ("", 'customer_id must look like CUST-1001, got "".'),
    ],
)
def test_bad_arguments_to_lookup_user_profile(customer_id: object, message: str) -> None:
    assert lookup_user_profile(customer_id) == {"error": message}
