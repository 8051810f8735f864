"""Northgate Bank's card tools (in memory)."""

from __future__ import annotations


def verify_customer(account_number: str, date_of_birth: str) -> dict:
    if (account_number, date_of_birth) != ("12345678", "1985-03-03"):
        return {"verified": False}
    return {"verified": True, "customer_id": "C-0077", "name": "Sam Lee"}


def block_card(card_last_four: str, reason: str) -> dict:
    return {"card": f"ending {card_last_four}", "blocked": True, "reason": reason}


def order_replacement(card_last_four: str, delivery: str) -> dict:
    days = 1 if delivery == "express" else 5
    return {"new_card": "on its way", "arrives_in_days": days}
