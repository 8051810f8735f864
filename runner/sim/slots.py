"""Filling a tool's arguments from what was said, the way a model reads a JSON schema.

Each parameter is looked for by what its schema says about it: an `enum` value named
in the text, a `pattern` or an `examples` shape (`INV-2001`, `(555) 123-4567`, also taken
from "such as ..." in the description), a `format` (email, date, time), a number for an
integer or number, a name after "my name is", and for free text (a reason, a query) the
user's own words. Values already known (earlier calls' arguments and outputs) fill
parameters of the same name. Nothing is guessed: what cannot be found is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from .ranking import STOP_WORDS, overlap, stem, terms

FREE_TEXT = ("reason", "description", "query", "subject", "details", "notes", "note", "message", "comment",
             "summary", "problem", "issue", "request", "search", "keywords", "text", "instructions")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
NAME_INTRO = re.compile(r"\b(?:my name is|my name's|i am|i'm|this is|it's|name is)\s+([A-Z][a-z]+(?: [A-Z][a-z]+)?)")
STREET = re.compile(r"\b\d+[a-z]?,? (?:[A-Z][a-z]+ )+(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Way|Drive|Dr|Close|Place|Court|Square|Boulevard|Terrace|Crescent)\b")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
DATE_WORDS = re.compile(rf"\b(?:({'|'.join(MONTHS)})\s+(\d{{1,2}})(?:st|nd|rd|th)?|(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({'|'.join(MONTHS)}))(?:,?\s+(\d{{4}}))?", re.IGNORECASE)
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.|o'clock)?(?![\d:])", re.IGNORECASE)
CLOCK_AFTER = re.compile(r"\s*(?:o'clock|am\b|pm\b|a\.m\.|p\.m\.|:\d)", re.IGNORECASE)
AMOUNT = re.compile(r"(?:[$€£]\s?)?(\d+(?:\.\d+)?)")
EXAMPLE_IN_DESCRIPTION = re.compile(r"(?:such as|e\.g\.|for example|like|in the form|format)\s*:?\s*(\(?[A-Za-z0-9][\w()\-. /]*[A-Za-z0-9)])")
NUMBER_WORDS = {word: value for value, word in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}
NUMBER_WORDS.update({"oh": 0, "a couple of": 2, "a pair of": 2, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50})


@dataclass(slots=True)
class Filled:
    """One tool's arguments as far as the conversation gives them."""

    args: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # required parameters nothing gave
    sources: dict[str, str] = field(default_factory=dict)  # parameter -> where its value came from
    evidence: int = 0  # values with a specific shape found in the latest words: a hint the tool is meant


def normalise_numbers(text: str) -> str:
    """Spoken digits become digits ("five five five one" -> "5551"), so speech fills numbers too."""
    def replace(match: re.Match[str]) -> str:
        return "".join(str(NUMBER_WORDS[word]) for word in match[0].lower().split())
    digits = "|".join(word for word in NUMBER_WORDS if " " not in word and NUMBER_WORDS[word] < 10)
    return re.sub(rf"\b(?:(?:{digits})\s+){{2,}}(?:{digits})\b", replace, text, flags=re.IGNORECASE)


def fill(parameters: Mapping[str, Any], texts: Sequence[str], facts: Mapping[str, Any], outputs: Sequence[Any]) -> Filled:
    """`texts`: the user's turns, latest first; `outputs`: tool outputs, latest first."""
    properties = parameters.get("properties") or {}
    required = set(parameters.get("required") or [])
    filled = Filled()
    spoken = [normalise_numbers(text) for text in texts]
    used: list[tuple[int, int]] = []  # spans of the latest text already taken by a parameter
    for name, schema in properties.items():
        schema = schema if isinstance(schema, Mapping) else {}
        found = _find(name, schema, spoken, facts, outputs, used, name in required)
        if found is None:
            if name in required:
                filled.missing.append(name)
            continue
        value, source, specific = found
        filled.args[name] = value
        filled.sources[name] = source
        filled.evidence += specific
    return filled


def _find(name: str, schema: Mapping[str, Any], texts: Sequence[str], facts: Mapping[str, Any],
          outputs: Sequence[Any], used: list[tuple[int, int]], required: bool) -> tuple[Any, str, int] | None:
    free = _is_free_text(name, schema)
    if texts and not free and (hit := _from_text(name, schema, texts[0], used)) is not None:
        return hit[0], f"'{hit[1]}' in what the user just said", 1
    if not free and name in facts and _acceptable(schema, facts[name]):
        return facts[name], "known from earlier in the conversation", 0
    if not free and (value := _from_outputs(name, schema, texts[0] if texts else "", outputs)) is not None:
        return value, "from a tool's output", 0
    for earlier in texts[1:]:
        if not free and (hit := _from_text(name, schema, earlier, [])) is not None:
            return hit[0], f"'{hit[1]}' said earlier", 0
    if free and texts and (required or name in ("reason", "query")):
        return texts[0].strip()[:200], "the user's own words", 0
    return None


def _is_free_text(name: str, schema: Mapping[str, Any]) -> bool:
    if schema.get("type", "string") != "string" or any(key in schema for key in ("enum", "pattern", "format", "examples", "const")):
        return False
    words = set(re.split(r"[_\W]+", name.lower()))
    return bool(words & set(FREE_TEXT)) and not _example_of(schema)


def _acceptable(schema: Mapping[str, Any], value: Any) -> bool:
    """Whether a value known from elsewhere fits this parameter (same name is not same meaning)."""
    if "enum" in schema and value not in schema["enum"]:
        return False
    expected = schema.get("type")
    if expected == "string":
        return isinstance(value, str) and (not schema.get("pattern") or re.search(schema["pattern"], value) is not None)
    if expected in ("integer", "number"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return expected is None or isinstance(value, (str, int, float, bool))


def _from_text(name: str, schema: Mapping[str, Any], text: str, used: list[tuple[int, int]]) -> tuple[Any, str] | None:
    """(value, the words it came from), taking the span so no other parameter reads it again."""
    for value, span in _candidates(name, schema, text):
        if any(span[0] < end and start < span[1] for start, end in used):
            continue
        used.append(span)
        return value, text[span[0] : span[1]]
    return None


def _candidates(name: str, schema: Mapping[str, Any], text: str) -> Iterator[tuple[Any, tuple[int, int]]]:
    kind = schema.get("type", "string")
    if "enum" in schema:
        yield from _enum(schema["enum"], text)
        return
    if schema.get("pattern"):
        yield from _pattern(schema["pattern"], text)
        return
    example = _example_of(schema)
    if example is not None and kind == "string":
        yield from _shaped(example, text)
        return
    format_ = schema.get("format")
    if format_ == "email" or (kind == "string" and "email" in name.lower()):
        yield from ((match[0], match.span()) for match in EMAIL.finditer(text))
    elif format_ == "date":
        yield from _dates(text)
    elif format_ == "time":
        yield from _times(text)
    elif kind in ("integer", "number"):
        yield from _numbers(name, schema, text)
    elif kind == "string" and "phone" in name.lower():
        yield from ((re.sub(r"\D", "", match[0]), match.span()) for match in re.finditer(r"\+?\d[\d ()-]{6,}\d", text))
    elif kind == "string" and "address" in name.lower():
        yield from ((match[0], match.span()) for match in STREET.finditer(text))
    elif kind == "string" and name.lower() in ("name", "full_name", "customer_name", "first_name", "caller_name"):
        yield from ((match[1], match.span(1)) for match in NAME_INTRO.finditer(text))


def _enum(values: Sequence[Any], text: str) -> Iterator[tuple[Any, tuple[int, int]]]:
    """Enum values named in the text: the word itself first, then its concept ("wifi" meets "connectivity")."""
    words = list(re.finditer(r"[\w']+", text))
    for level in (_stems, terms):
        said = [(match.span(), level(match[0])) for match in words]
        hits = []
        for order, value in enumerate(values):
            wanted = level(str(value).replace("_", " "))
            for index in range(len(said)):
                if wanted and all(index + offset < len(said) and said[index + offset][1][:1] == [term] for offset, term in enumerate(wanted)):
                    hits.append((said[index][0][0], order, value, (said[index][0][0], said[index + len(wanted) - 1][0][1])))
                    break
        if hits:
            for _, _, value, span in sorted(hits, key=lambda hit: hit[:2]):
                yield value, span
            return


def _stems(text: str) -> list[str]:
    return [stem(word) for word in re.findall(r"[\w']+", text.lower()) if word not in STOP_WORDS]


def _pattern(pattern: str, text: str) -> Iterator[tuple[Any, tuple[int, int]]]:
    body = pattern.removeprefix("^").removesuffix("$")
    try:
        loose = re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)
    except re.error:
        return
    for match in loose.finditer(text):
        value = match[0] if re.fullmatch(pattern, match[0]) else match[0].upper()
        if re.fullmatch(pattern, value):
            yield value, match.span()


def _example_of(schema: Mapping[str, Any]) -> str | None:
    """An example value: `examples[0]`, or one the description shows ("such as INV-2001")."""
    examples = schema.get("examples")
    if isinstance(examples, list) and examples and isinstance(examples[0], str):
        return examples[0]
    match = EXAMPLE_IN_DESCRIPTION.search(str(schema.get("description", "")))
    if match and re.search(r"\d", match[1]):
        return match[1].rstrip(".")
    return None


def _shaped(example: str, text: str) -> Iterator[tuple[Any, tuple[int, int]]]:
    """Values shaped like the example: the same letters and separators, any digits (as many, for long numbers)."""
    digits = re.sub(r"\D", "", example)
    if len(digits) >= 7 and len(re.sub(r"[\d\W_]", "", example)) == 0:
        for match in re.finditer(r"\+?\d[\d ().-]*\d", text):
            found = re.sub(r"\D", "", match[0])
            if len(found) == len(digits):
                numbers = iter(found)
                yield re.sub(r"\d", lambda _: next(numbers), example), match.span()
        return
    shape = ""
    for piece in re.findall(r"[A-Za-z]+|\d+|[^A-Za-z\d]", example):
        if piece.isdigit():
            shape += r"\d+"
        elif piece.isalpha():
            shape += re.escape(piece)
        else:
            shape += rf"\s?{re.escape(piece)}?\s?"
    for match in re.finditer(rf"(?<![\w-]){shape}(?![\w-])", text, re.IGNORECASE):
        letters = iter(re.findall(r"[A-Za-z]+|\d+", match[0]))
        rebuilt = re.sub(r"[A-Za-z]+|\d+", lambda piece: next(letters, piece[0]), example)
        yield (rebuilt.upper() if example.isupper() or example.upper() == example else rebuilt), match.span()


def _dates(text: str) -> Iterator[tuple[Any, tuple[int, int]]]:
    for match in ISO_DATE.finditer(text):
        yield match[0], match.span()
    for match in DATE_WORDS.finditer(text):
        month = MONTHS.index((match[1] or match[4]).lower()) + 1
        day = int(match[2] or match[3])
        if match[5]:
            yield f"{match[5]}-{month:02d}-{day:02d}", match.span()


def _times(text: str) -> Iterator[tuple[Any, tuple[int, int]]]:
    for match in CLOCK.finditer(text):
        hour, minute, suffix = int(match[1]), int(match[2] or 0), (match[3] or "").lower().replace(".", "")
        if not suffix and match[2] is None:
            continue
        if suffix == "pm" and hour < 12:
            hour += 12
        elif suffix == "am" and hour == 12:
            hour = 0
        elif suffix == "o'clock" and hour < 10:
            hour += 12
        if hour < 24 and minute < 60:
            yield f"{hour:02d}:{minute:02d}", match.span()


def _numbers(name: str, schema: Mapping[str, Any], text: str) -> Iterator[tuple[Any, tuple[int, int]]]:
    """Numbers in range; one followed by a word of the parameter's own (2 *pizzas* for a quantity) first."""
    lowered = text.lower()
    found: list[tuple[int, Any, tuple[int, int]]] = []
    long_numbers = [match.span() for match in re.finditer(r"\+?\d[\d ()-]{6,}\d", text) if len(re.sub(r"\D", "", match[0])) >= 7]
    for word, value in NUMBER_WORDS.items():
        for match in re.finditer(rf"\b{word}\b", lowered):
            found.append((match.start(), value, match.span()))
    for match in AMOUNT.finditer(text):
        if re.match(r"[\d:/-]", text[match.end() : match.end() + 1]) or re.search(r"[\w:/-]$", text[: match.start()]):
            continue
        if any(start <= match.start() < end for start, end in long_numbers):
            continue
        number = float(match[1])
        found.append((match.start(), int(number) if number.is_integer() else number, match.span()))
    found = [hit for hit in found if not CLOCK_AFTER.match(text, hit[2][1])]
    own = f"{name} {schema.get('description', '')}"
    for match in re.finditer(r"\b(?:a|an)\b(?! couple| pair)", lowered):  # "a large pizza" is one pizza, when pizzas are what is counted
        if overlap(text[match.end() : match.end() + 20], [own]):
            found.append((match.start(), 1, match.span()))
    ranked = sorted(found, key=lambda hit: (-overlap(text[hit[2][1] : hit[2][1] + 20], [own]), hit[0]))
    for _, value, span in ranked:
        if schema.get("type") == "integer" and not float(value).is_integer():
            continue
        if not _in_range(schema, value):
            continue
        yield (int(value) if schema.get("type") == "integer" else value), span


def _in_range(schema: Mapping[str, Any], value: float) -> bool:
    return not (("minimum" in schema and value < schema["minimum"]) or ("maximum" in schema and value > schema["maximum"])
                or ("exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]))


def _from_outputs(name: str, schema: Mapping[str, Any], text: str, outputs: Sequence[Any]) -> Any:
    """A field of that name inside a recent output; among several records, the one the user's words name."""
    said = " ".join([text, *(value for value, _ in _times(text))])
    for output in outputs:
        records = list(_records_with(name, output))
        if records:
            best = max(records, key=lambda record: overlap(said, [v for v in record.values() if isinstance(v, (str, int, float))]))
            value = best[name]
            if _acceptable(schema, value):
                return value
    return None


def _records_with(name: str, value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if name in value:
            yield value
        for child in value.values():
            yield from _records_with(name, child)
    elif isinstance(value, list):
        for child in value:
            yield from _records_with(name, child)
