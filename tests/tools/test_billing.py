"""lookup_invoice and request_refund: every branch of the refund policy, and the record."""

from __future__ import annotations

import pytest

from tools.billing import lookup_invoice, request_refund
from tools.db import initialise


def refund_rows(db_query) -> list[tuple]:
    return db_query(
        "SELECT id, customer_id, invoice_id, requested_cents, reason, decision, decision_reason, refunded_cents"
        " FROM refunds ORDER BY number"
    )


def test_lookup_one_invoice() -> None:
    invoice = lookup_invoice("CUST-1001", invoice_id="INV-2001")
    assert {key: invoice[key] for key in ("invoice_id", "description", "amount", "status", "refunded_amount")} == {
        "invoice_id": "INV-2001",
        "description": "TechCorp Care, one year",
        "amount": 129.99,
        "status": "paid",
        "refunded_amount": 0.0,
    }


def test_lookup_lists_the_customers_invoices_newest_first() -> None:
    result = lookup_invoice("CUST-1001")
    assert [invoice["invoice_id"] for invoice in result["invoices"]] == ["INV-2001", "INV-2002"]
    assert result["invoices"][1]["amount"] == 49.0


def test_refund_deadline_follows_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    invoice = lookup_invoice("CUST-1001", invoice_id="INV-2001")
    monkeypatch.setenv("REFUND_WINDOW_DAYS", "10")
    shorter = lookup_invoice("CUST-1001", invoice_id="INV-2001")
    assert invoice["refund_deadline"] > shorter["refund_deadline"]


def test_lookup_shows_what_was_refunded() -> None:
    request_refund("CUST-1001", "INV-2001", "Partly unused", amount=30)
    assert lookup_invoice("CUST-1001", "INV-2001")["refunded_amount"] == 30.0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"customer_id": "CUST-9999"}, "No customer with id CUST-9999."),
        ({"customer_id": 1001}, "customer_id must look like CUST-1001, got 1001."),
        ({"invoice_id": "INV-9999"}, "No invoice INV-9999 on the account of CUST-1001."),
        ({"invoice_id": "INV-2003"}, "No invoice INV-2003 on the account of CUST-1001."),
        ({"invoice_id": "2001"}, 'invoice_id must look like INV-2001, got "2001".'),
    ],
)
def test_bad_arguments_to_lookup_invoice(arguments: dict, message: str) -> None:
    assert lookup_invoice(**{"customer_id": "CUST-1001", **arguments}) == {"error": message}


def test_full_refund_inside_the_window_is_approved_and_recorded(db_query) -> None:
    result = request_refund("CUST-1001", "INV-2001", "Bought by mistake")
    assert result == {
        "refund_id": "RFD-00001",
        "invoice_id": "INV-2001",
        "decision": "approved",
        "decision_reason": "Refund of 129.99 approved within the 30-day refund window.",
        "refund_amount": 129.99,
        "payout": "The money reaches the original payment method within 5 to 10 business days.",
    }
    assert refund_rows(db_query) == [
        ("RFD-00001", "CUST-1001", "INV-2001", None, "Bought by mistake", "approved",
         "Refund of 129.99 approved within the 30-day refund window.", 12999),
    ]


def test_partial_refunds_until_nothing_is_left(db_query) -> None:
    assert request_refund("CUST-1001", "INV-2001", "Half", amount=64.99)["refund_amount"] == 64.99
    too_much = request_refund("CUST-1001", "INV-2001", "More", amount=65.01)
    assert too_much["decision"] == "denied"
    assert too_much["decision_reason"] == "The requested 65.01 is more than the 65.00 still refundable on invoice INV-2001."
    rest = request_refund("CUST-1001", "INV-2001", "The rest")
    assert (rest["decision"], rest["refund_amount"]) == ("approved", 65.0)
    again = request_refund("CUST-1001", "INV-2001", "Once more")
    assert again["decision_reason"] == "Invoice INV-2001 has already been refunded in full."
    assert db_query("SELECT decision, requested_cents, refunded_cents FROM refunds ORDER BY number") == [
        ("approved", 6499, 6499),
        ("denied", 6501, 0),
        ("approved", None, 6500),
        ("denied", None, 0),
    ]


def test_amount_above_the_invoice_is_denied() -> None:
    result = request_refund("CUST-1001", "INV-2001", "Everything", amount=500)
    assert result["decision"] == "denied"
    assert result["decision_reason"] == "The requested 500.00 is more than the 129.99 still refundable on invoice INV-2001."
    assert result["refund_amount"] == 0.0
    assert "payout" not in result


def test_outside_the_window_is_denied(db_query) -> None:
    result = request_refund("CUST-1001", "INV-2002", "Never used it")
    (issued,) = db_query("SELECT substr(issued_at, 1, 10) FROM invoices WHERE id = 'INV-2002'")[0]
    assert result["decision"] == "denied"
    assert result["decision_reason"] == (
        f"Invoice INV-2002 is dated {issued}, more than 30 days ago; refunds are possible within 30 days of the invoice date."
    )


def test_window_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFUND_WINDOW_DAYS", "90")
    assert request_refund("CUST-1001", "INV-2002", "Never used it")["decision"] == "approved"
    monkeypatch.setenv("REFUND_WINDOW_DAYS", "3")
    result = request_refund("CUST-1001", "INV-2001", "Too late now")
    assert result["decision"] == "denied"
    assert "more than 3 days ago; refunds are possible within 3 days" in result["decision_reason"]


def test_another_customers_invoice_is_denied_and_recorded(db_query) -> None:
    result = request_refund("CUST-1001", "INV-2004", "Not mine")
    assert result["decision"] == "denied"
    assert result["decision_reason"] == "Invoice INV-2004 is not on the account of CUST-1001."
    assert db_query("SELECT customer_id, invoice_id, decision FROM refunds") == [("CUST-1001", "INV-2004", "denied")]


def test_unpaid_invoice_is_denied() -> None:
    result = request_refund("CUST-1002", "INV-2003", "Changed my mind")
    assert result["decision"] == "denied"
    assert result["decision_reason"] == "Invoice INV-2003 has not been paid, so there is nothing to refund."


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"customer_id": "CUST-9999"}, "No customer with id CUST-9999."),
        ({"invoice_id": "INV-9999"}, "No invoice with id INV-9999."),
        ({"invoice_id": "last month"}, 'invoice_id must look like INV-2001, got "last month".'),
        ({"reason": ""}, "reason must not be empty."),
        ({"reason": 7}, "reason must be a string, got 7."),
        ({"amount": 0}, "amount must be more than 0, got 0."),
        ({"amount": -5.5}, "amount must be more than 0, got -5.5."),
        ({"amount": 0.004}, "amount must be more than 0, got 0.004."),
        ({"amount": "10"}, 'amount must be a number, got "10".'),
        ({"amount": True}, "amount must be a number, got true."),
        ({"amount": float("nan")}, "amount must be a finite number, got NaN."),
        ({"amount": float("inf")}, "amount must be a finite number, got Infinity."),
        ({"amount": 1e300}, "amount is too large, got 1e+300."),
    ],
)
def test_bad_arguments_to_request_refund_are_not_recorded(arguments: dict, message: str, db_query) -> None:
    initialise()
    valid = {"customer_id": "CUST-1001", "invoice_id": "INV-2001", "reason": "Broken"}
    assert request_refund(**{**valid, **arguments}) == {"error": message}
    assert refund_rows(db_query) == []


@pytest.mark.parametrize("configured", ["thirty", "-1", "", "2.5"])
def test_a_bad_refund_window_setting_is_reported(configured: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFUND_WINDOW_DAYS", configured)
    expected = {"error": f'REFUND_WINDOW_DAYS must be a whole number of days, got "{configured}".'}
    assert request_refund("CUST-1001", "INV-2001", "Broken") == expected
    assert lookup_invoice("CUST-1001") == expected


def test_the_refund_window_comes_from_the_configs_variable_when_the_runner_passes_its_context(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setenv("REFUND_WINDOW_DAYS", "90")
    # INV-2001 is 5 days old: inside 30 days, outside a 3-day window set in the config
    strict = SimpleNamespace(variables={"refund_window_days": 3})
    result = request_refund("CUST-1001", "INV-2001", "Changed my mind", context=strict)
    assert result["decision"] == "denied"
    assert "3-day" in result["decision_reason"] or "3 days" in result["decision_reason"]
