"""Which description fits what the user said: BM25 over a few short documents, pure Python.

The documents are tool and handoff descriptions, a dozen words each, so plain word
overlap misses "I'd like a film ticket" against "Books cinema seats". Words are
therefore reduced to a crude stem and then to a concept from a small table of
everyday customer-service synonyms, the knowledge any plausible model has. Everything
here is deterministic: the same words and documents always give the same scores.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

STOP_WORDS = frozenset("""
a about above after again all also am an and any are as at be been being but by can could did do does doing
for from had has have having he her here hers him his how i i'd i'll i'm i've if in into is it it's its just
let like me more most my myself no nor not of off on once only or other our ours out over own please same she
should so some such than that the their them then there these they this those through to too under until up
us very want wanted was we were what when where which while who whom why will with would you your yours
hi hello hey thanks thank ok okay yes yeah um uh well really need needs get got going go one
caller customer user given returns return optionally way form few words
""".split())

# Everyday phrasings a model maps without thinking, as one concept token each.
PHRASES = {
    "money back": "refund", "how much": "price", "call me back": "callback", "call back": "callback",
    "not working": "broken", "doesn't work": "broken", "does not work": "broken", "won't work": "broken",
    "won't turn on": "broken", "stopped working": "broken", "sign in": "login", "log in": "login",
    "real person": "human", "tech support": "technical support",
}

SYNONYM_GROUPS = (
    ("buy", "purchase", "order", "shop"),
    ("price", "cost", "pricing", "quote", "expensive", "cheap", "fee"),
    ("block", "freeze", "lock", "deactivate", "suspend", "disable", "cancel", "stop"),
    ("lost", "stolen", "steal", "stole", "theft", "missing", "lose", "misplace", "fraud", "fraudulent"),
    ("movie", "film", "cinema", "screening", "showing", "showtime"),
    ("ticket", "seat", "reservation", "reserve", "book", "booking"),
    ("deliver", "delivery", "shipping", "ship", "bring", "send"),
    ("human", "person", "agent", "representative", "someone", "somebody", "operator", "staff", "colleague", "people"),
    ("problem", "issue", "trouble", "broken", "fault", "error", "wrong", "crash", "fix", "repair"),
    ("refund", "reimburse", "reimbursement", "repay"),
    ("invoice", "bill", "billing", "charge", "statement", "receipt", "payment"),
    ("network", "wifi", "internet", "connection", "connectivity", "disconnect", "online", "router", "signal"),
    ("status", "track", "tracking", "progress", "late", "arrive", "eta"),
    ("menu", "option", "choice", "topping", "flavour", "flavor"),
    ("address", "street", "location", "live"),
    ("technical", "tech", "technician"),
    ("account", "profile"),
    ("product", "item", "model", "laptop", "notebook", "device", "computer"),
    ("stock", "available", "availability", "inventory", "supply"),
    ("card", "debit", "credit", "visa", "mastercard"),
    ("replace", "replacement", "reissue"),
    ("transaction", "spend", "spending"),
)
_CONCEPT = {word: group[0] for group in SYNONYM_GROUPS for word in group}

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
K1, B = 1.2, 0.75
# Unrelated documents assumed beside the few real ones, so that with one or two tools a
# matching word still counts as rare instead of scoring next to nothing.
BACKGROUND_DOCUMENTS = 3


def stem(word: str) -> str:
    """A light suffix strip so "delivered", "delivery" and "delivering" meet at "deliver"."""
    for suffix, replacement in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: len(word) - len(suffix)] + replacement
            break
    if len(word) > 4 and word[-1] in "ey":
        word = word[:-1]
    return word


_STEMMED_CONCEPT = {stem(word): concept for word, concept in _CONCEPT.items()}


def terms(text: str) -> list[str]:
    """The comparable terms of `text`: phrases folded, stop words dropped, stems mapped to concepts."""
    lowered = text.lower().replace("’", "'")
    for phrase, concept in PHRASES.items():
        lowered = lowered.replace(phrase, f" {concept} ")
    found = []
    for word in _WORD.findall(lowered):
        if word in STOP_WORDS or word.endswith("n't"):
            continue
        concept = _CONCEPT.get(word) or _STEMMED_CONCEPT.get(stem(word)) or stem(word)
        found.append(concept)
    return found


@dataclass(frozen=True, slots=True)
class Ranked:
    name: str
    score: float
    matched: tuple[str, ...]  # the query's words that met this document, as the user said them


def rank(query: str, documents: Mapping[str, str]) -> list[Ranked]:
    """Every document scored against `query` by BM25, best first; ties keep the documents' order."""
    docs = {name: terms(text) for name, text in documents.items()}
    if not docs:
        return []
    average = sum(len(words) for words in docs.values()) / len(docs) or 1.0
    frequency = Counter(term for words in docs.values() for term in set(words))
    spoken = _spoken_forms(query)
    ranked = []
    for name, words in docs.items():
        counts = Counter(words)
        score = 0.0
        matched: list[str] = []
        for term in dict.fromkeys(terms(query)):
            if term not in counts:
                continue
            idf = math.log(1 + (len(docs) + BACKGROUND_DOCUMENTS - frequency[term] + 0.5) / (frequency[term] + 0.5))
            tf = counts[term]
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(words) / average))
            matched.append(spoken.get(term, term))
        ranked.append(Ranked(name, score, tuple(matched)))
    order = {name: index for index, name in enumerate(docs)}
    return sorted(ranked, key=lambda item: (-item.score, order[item.name]))


def _spoken_forms(query: str) -> dict[str, str]:
    """Each query term mapped back to the first word the user said for it (for explanations)."""
    forms: dict[str, str] = {}
    for word in _WORD.findall(query.lower()):
        for term in terms(word):
            forms.setdefault(term, word)
    for phrase, concept in PHRASES.items():
        if phrase in query.lower():
            for term in terms(concept):
                forms[term] = phrase
    return forms


def overlap(text: str, words: Iterable[str]) -> int:
    """How many of `words`' terms appear in `text`: a cheap tie-breaker between records."""
    have = set(terms(text))
    return sum(1 for term in {t for word in words for t in terms(str(word))} if term in have)
