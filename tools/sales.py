"""Sales: the product catalogue, stock levels and prices with tier and volume discounts."""

from __future__ import annotations

import re
import sqlite3
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from . import arguments
from .arguments import BadArgument, reports_bad_arguments
from .auth import customer_id_argument, existing_customer
from .db import connect, from_cents

PRODUCT_CATEGORIES = ("laptops", "phones", "accessories", "networking", "software")
TIER_DISCOUNT_PERCENT = {"standard": 0, "silver": 5, "gold": 10, "platinum": 15}
# (minimum quantity, percent off), largest first: the first that applies wins.
VOLUME_DISCOUNT_PERCENT = ((50, 10), (10, 5))
MAX_QUANTITY = 1000
CENT = Decimal("0.01")

# Words too common in product descriptions to tell products apart.
STOP_WORDS = frozenset("a an and the for with of to in on or i want need looking".split())


def product_id_argument(value: Any) -> str:
    return arguments.identifier("product_id", value, "PROD", "PROD-001")


def existing_product(connection: sqlite3.Connection, product_id: str) -> sqlite3.Row:
    row = connection.execute(
        "SELECT p.*, i.units, i.warehouse, i.restock_date FROM products p"
        " JOIN inventory i ON i.product_id = p.id WHERE p.id = ?",
        (product_id,),
    ).fetchone()
    if row is None:
        raise BadArgument(f"No product with id {product_id}.")
    return row


def _word_matches(query_word: str, product_words: set[str]) -> bool:
    """Whole words, or the start of a word for queries of 3+ letters ("laptop" finds
    "laptops"), so a stray letter such as the "c" of "usb-c" does not match everything."""
    if query_word in product_words:
        return True
    return len(query_word) >= 3 and any(word.startswith(query_word) for word in product_words)


@reports_bad_arguments
def lookup_products(query: str | None = None, category: str | None = None, context: Any = None) -> dict[str, Any]:
    """Products whose name, description or category contain the query's words, those
    matching most words first; the whole catalogue (or category) without a query."""
    if category is not None:
        category = arguments.choice("category", category, PRODUCT_CATEGORIES)
    words: list[str] = []
    if query is not None:
        query = arguments.text("query", query)
        words = [word for word in re.findall(r"\w+", query.casefold()) if word not in STOP_WORDS]
        if not words:
            raise BadArgument(f"query {arguments.shown(query)} has no words to search for; name a product or feature.")
    with connect(context) as connection:
        rows = connection.execute(
            "SELECT p.*, i.units FROM products p JOIN inventory i ON i.product_id = p.id"
            " WHERE (? IS NULL OR p.category = ?) ORDER BY p.id",
            (category, category),
        ).fetchall()
    scored = []
    for row in rows:
        product_words = set(re.findall(r"\w+", f"{row['name']} {row['description']} {row['category']}".casefold()))
        matched = sum(_word_matches(word, product_words) for word in words)
        if matched or not words:
            scored.append((matched, row))
    scored.sort(key=lambda pair: -pair[0])
    return {
        "query": query,
        "category": category,
        "products": [
            {
                "product_id": row["id"],
                "name": row["name"],
                "category": row["category"],
                "price": from_cents(row["price_cents"]),
                "description": row["description"],
                "in_stock": row["units"] > 0,
            }
            for _, row in scored
        ],
    }


@reports_bad_arguments
def check_inventory(product_id: str, context: Any = None) -> dict[str, Any]:
    """Units on hand and where; when none are, the date new stock is expected."""
    product_id = product_id_argument(product_id)
    with connect(context) as connection:
        product = existing_product(connection, product_id)
    result: dict[str, Any] = {
        "product_id": product["id"],
        "name": product["name"],
        "in_stock": product["units"] > 0,
        "units_available": product["units"],
        "warehouse": product["warehouse"],
    }
    if product["units"] == 0:
        result["restock_date"] = product["restock_date"]
    return result


def _percent_of(amount: Decimal, percent: int) -> Decimal:
    return (amount * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


@reports_bad_arguments
def calculate_pricing(product_id: str, quantity: int, customer_id: str | None = None, context: Any = None) -> dict[str, Any]:
    """The price of `quantity` units: the customer's tier discount (when a customer is
    given) and a volume discount are applied to the subtotal, amounts rounded to cents."""
    product_id = product_id_argument(product_id)
    quantity = arguments.whole_number("quantity", quantity, minimum=1, maximum=MAX_QUANTITY)
    if customer_id is not None:
        customer_id = customer_id_argument(customer_id)
    with connect(context) as connection:
        product = existing_product(connection, product_id)
        tier = existing_customer(connection, customer_id)["tier"] if customer_id is not None else "standard"
    unit_price = Decimal(product["price_cents"]) / 100
    subtotal = unit_price * quantity
    tier_percent = TIER_DISCOUNT_PERCENT[tier]
    volume_percent = next((percent for minimum, percent in VOLUME_DISCOUNT_PERCENT if quantity >= minimum), 0)
    tier_discount = _percent_of(subtotal, tier_percent)
    volume_discount = _percent_of(subtotal, volume_percent)
    total = subtotal - tier_discount - volume_discount
    return {
        "product_id": product["id"],
        "name": product["name"],
        "quantity": quantity,
        "currency": "USD",
        "unit_price": float(unit_price),
        "subtotal": float(subtotal),
        "customer_id": customer_id,
        "tier": tier,
        "tier_discount_percent": tier_percent,
        "tier_discount": float(tier_discount),
        "volume_discount_percent": volume_percent,
        "volume_discount": float(volume_discount),
        "total": float(total),
    }
