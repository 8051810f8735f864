"""Riverside Cinema: two showings a day, bookings and refunds (in memory)."""

from __future__ import annotations


def find_showings(film: str, date: str) -> dict:
    return {"showings": [
        {"showing_id": "SH-301", "film": film, "date": date, "time": "18:00", "screen": "Screen 1"},
        {"showing_id": "SH-302", "film": film, "date": date, "time": "20:30", "screen": "Screen 2"},
    ]}


def book_seats(showing_id: str, seats: int, email: str) -> dict:
    return {"booking_ref": "BK-5521", "showing_id": showing_id, "seats": seats, "total": 12.0 * seats, "sent_to": email}


def cancel_booking(booking_ref: str, reason: str | None = None) -> dict:
    return {"booking_ref": booking_ref, "cancelled": True, "refund": "to the card you paid with, within 5 days"}
