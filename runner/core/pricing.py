"""Realtime token prices, USD per million tokens, from OpenAI's model pages.

Source: developers.openai.com/api/docs/models/<model> (text, audio and image tokens:
input / cached input / output), as read on 2026-12-01; the pages carry no date of their
own. gpt-realtime-2.1's page lists the same prices as gpt-realtime-2.

Kept apart from the session so a price change is a one-line diff.  Only exact model
names are priced: guessing a price for an unlisted model would print a wrong cost.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens for each token kind."""

    text_in: float
    text_cached: float
    text_out: float
    audio_in: float
    audio_cached: float
    audio_out: float
    image_in: float
    image_cached: float


PRICES: dict[str, Price] = {
    "gpt-realtime-2": Price(4.00, 0.40, 24.00, 32.00, 0.40, 64.00, 5.00, 0.50),
    "gpt-realtime-2.1": Price(4.00, 0.40, 24.00, 32.00, 0.40, 64.00, 5.00, 0.50),
    "gpt-realtime-1.5": Price(4.00, 0.40, 16.00, 32.00, 0.40, 64.00, 5.00, 0.50),
    "gpt-realtime-2.1-mini": Price(0.60, 0.06, 2.40, 10.00, 0.30, 20.00, 0.80, 0.08),
}


def price_for(model: str) -> Price | None:
    """The price of `model`, or None when the table does not list it."""
    return PRICES.get(model)


def unpriced_warning(model: str) -> str | None:
    """The one line to show at session start when `model` has no price, else None."""
    if model in PRICES:
        return None
    return f"model {model!r} has no listed price: report.json's cost_usd stays null"
