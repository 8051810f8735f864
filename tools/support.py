"""Technical support: knowledge-base search (FTS5, bm25) and support tickets."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from . import arguments
from .arguments import BadArgument, reports_bad_arguments
from .auth import customer_id_argument, existing_customer
from .db import connect, to_timestamp, utc_now

KB_CATEGORIES = ("connectivity", "account", "hardware", "software", "billing")
PRIORITIES = ("low", "medium", "high", "urgent")
MAX_RESULTS = 10

# bm25 weights per kb_search column (title, keywords, body): a word in the title says
# far more about what an article is for than the same word in passing in the body.
COLUMN_WEIGHTS = (10.0, 5.0, 1.0)

# Words that match nearly every article and would only add noise to an OR query.
STOP_WORDS = frozenset(
    "a an and are as at be but by can do does for from has have how i if in is it its my me "
    "no not of on or our so that the their there this to up was we what when where which why will with "
    "you your".split()
)

# Promised time to resolution: (how long, in business days or hours, as said to the caller).
RESOLUTION_TARGETS: dict[str, tuple[timedelta | int, str]] = {
    "urgent": (timedelta(hours=4), "within 4 hours"),
    "high": (1, "within 1 business day"),
    "medium": (3, "within 3 business days"),
    "low": (5, "within 5 business days"),
}


def fts_query(query: str) -> str:
    """The caller's words as an FTS5 query: each word quoted (so FTS syntax such as
    quotes, `*`, `-`, `NEAR` or `OR` in the text is matched literally, never parsed)
    and joined with OR so bm25 ranks the articles that match most words first."""
    words = [word for word in re.findall(r"\w+", query.casefold()) if word not in STOP_WORDS]
    return " OR ".join(f'"{word}"' for word in dict.fromkeys(words))


def resolution_due(priority: str, opened_at: datetime) -> datetime:
    """When a ticket of this priority should be resolved; business days skip weekends."""
    target, _ = RESOLUTION_TARGETS[priority]
    if isinstance(target, timedelta):
        return opened_at + target
    due = opened_at
    remaining = target
    while remaining:
        due += timedelta(days=1)
        if due.weekday() < 5:
            remaining -= 1
    return due


@reports_bad_arguments
def search_knowledge_base(query: str, category: str | None = None, limit: int = 3, context: Any = None) -> dict[str, Any]:
    """Knowledge-base articles matching the query, best first, with the matching passage."""
    query = arguments.text("query", query)
    if category is not None:
        category = arguments.choice("category", category, KB_CATEGORIES)
    limit = arguments.whole_number("limit", limit, minimum=1, maximum=MAX_RESULTS)
    match = fts_query(query)
    if not match:
        raise BadArgument(f"query {arguments.shown(query)} has no words to search for; describe the problem in a few words.")
    weights = ", ".join(str(weight) for weight in COLUMN_WEIGHTS)
    with connect(context) as connection:
        rows = connection.execute(
            f"SELECT a.id, a.title, a.category, a.body, bm25(kb_search, {weights}) AS rank,"
            " snippet(kb_search, 2, '', '', '...', 24) AS passage"
            " FROM kb_search JOIN kb_articles a ON a.rowid = kb_search.rowid"
            " WHERE kb_search MATCH ? AND (? IS NULL OR a.category = ?)"
            " ORDER BY rank LIMIT ?",
            (match, category, category, limit),
        ).fetchall()
    return {
        "query": query,
        "category": category,
        "results": [
            {
                "article_id": row["id"],
                "title": row["title"],
                "category": row["category"],
                "score": round(-row["rank"], 3),
                "snippet": row["passage"],
                "content": row["body"],
            }
            for row in rows
        ],
    }


@reports_bad_arguments
def create_support_ticket(customer_id: str, subject: str, description: str, priority: str, context: Any = None) -> dict[str, Any]:
    """Open a ticket and say when it should be resolved, from its priority."""
    customer_id = customer_id_argument(customer_id)
    subject = arguments.text("subject", subject)
    description = arguments.text("description", description)
    priority = arguments.choice("priority", priority, PRIORITIES)
    opened_at = utc_now()
    due_at = resolution_due(priority, opened_at)
    with connect(context, write=True) as connection:
        existing_customer(connection, customer_id)
        cursor = connection.execute(
            "INSERT INTO tickets (customer_id, subject, description, priority, created_at, due_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (customer_id, subject, description, priority, to_timestamp(opened_at), to_timestamp(due_at)),
        )
        ticket_id = cursor.fetchone()["id"]
    return {
        "ticket_id": ticket_id,
        "customer_id": customer_id,
        "subject": subject,
        "priority": priority,
        "status": "open",
        "estimated_resolution": RESOLUTION_TARGETS[priority][1],
        "due_by": to_timestamp(due_at),
    }
