"""Tony's Pizza: a menu, orders and their status (in memory: each run starts fresh)."""

from __future__ import annotations

PRICES = {"small": 8.0, "medium": 11.0, "large": 14.5}


def show_menu() -> dict:
    return {"pizzas": ["margherita", "pepperoni", "hawaiian", "veggie"], "prices": PRICES}


def place_order(pizza: str, size: str, quantity: int, address: str) -> dict:
    return {"order_id": "PZ-1043", "pizza": f"{quantity} {size} {pizza}", "total": PRICES[size] * quantity, "deliver_to": address}


def order_status(order_id: str) -> dict:
    return {"order_id": order_id, "status": "in the oven", "minutes_to_arrival": 25}
