"""The simulator's ears: offline speech recognition with pocketsphinx 5 and the model in its wheel.

A general English language model hears little in a synthetic or noisy voice, but a
session's words are known in advance: its instructions, its tools' descriptions, enum
values and examples. Like a human operator who knows what callers ring about, the
recogniser uses a small bigram model built from those words plus everyday call
phrases, and a dictionary cut down to them (which also makes building it take
milliseconds, not the seconds the full dictionary takes). Nothing is downloaded: the
acoustic model and the pronunciation dictionary ship inside the pocketsphinx wheel.
Without pocketsphinx the simulator keeps its scripted transcripts, and says so once.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import logging
import math
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import soxr

from .slots import normalise_numbers

logger = logging.getLogger(__name__)
RATE = 16_000  # what the bundled acoustic model was trained on
DISCOUNT = 0.5
DIGITS = "zero one two three four five six seven eight nine".split()
EVERYDAY = """\
hi hello hey good morning good afternoon good evening yes no yeah okay sure thanks thank you bye goodbye please
my name is i am i'm this is it's it is that's right that is correct
my phone number is my number is my email is my account number is
zero one two three four five six seven eight nine ten oh double hundred thousand dollars
i want i would like i'd like i need can you could you please can i help me with
i have a question about my i want to talk to a person can someone call me back
it is not working it doesn't work it keeps it still it stopped working again
how much does it cost is it in stock do you have what do you have when will it arrive
i want to cancel i want a refund i want my money back i lost my it was stolen
i want to buy i want to order i want to book i want to change i want to check
today tomorrow tonight this morning this evening monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december
my internet keeps dropping my wifi is not working it keeps disconnecting my connection is slow
i have a question about my bill there is a charge on my card my password does not work
i lost my card my order is late where is my delivery i want to book a ticket
""" + "\n".join(f"is {digit} {digit} " + " ".join(DIGITS) for digit in DIGITS)
_said_once = False


def available() -> bool:
    """Whether pocketsphinx is installed; the first time it is not, one warning says what that means."""
    global _said_once
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        if not _said_once:
            _said_once = True
            logger.warning("runner.sim: pocketsphinx is not installed, so the simulator does not transcribe speech; "
                           "every user audio turn is heard as the rule file's user_transcript (pip install 'runner[speech]')")
        return False
    return True


def context_of(session: Mapping[str, Any]) -> str:
    """The words a session's callers are likely to use: its instructions and its tools' texts."""
    parts = [str(session.get("instructions") or "")]
    for tool in session.get("tools") or []:
        parts.append(str(tool.get("description") or ""))
        parts.append(str(tool.get("name") or "").replace("_", " "))
        for name, schema in ((tool.get("parameters") or {}).get("properties") or {}).items():
            if isinstance(schema, Mapping):
                parts += [name.replace("_", " "), str(schema.get("description") or ""), " ".join(map(str, schema.get("enum") or []))]
    return "\n".join(parts)


def transcribe(pcm16: bytes, rate: int, context: str) -> str:
    """What was said in `pcm16` (mono, at `rate`), digits as digits; "" when nothing was recognised."""
    samples = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    pause = bytes(RATE // 2 * 2)  # half a second of silence either side: the decoder ends words better with room
    resampled = soxr.resample(samples, rate, RATE, quality="HQ") if rate != RATE else samples
    audio = pause + np.clip(resampled, -32768, 32767).astype("<i2").tobytes() + pause
    recogniser = _recogniser(hashlib.sha256(context.encode()).hexdigest(), context)
    with recogniser.lock:
        decoder = recogniser.decoder
        decoder.start_utt()
        decoder.process_raw(audio, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
    words = hypothesis.hypstr.strip() if hypothesis is not None else ""
    return _sentence(normalise_numbers(words)) if words else ""


def _sentence(words: str) -> str:
    text = re.sub(r"\bi\b", "I", words)
    return text[0].upper() + text[1:] + "."


class _Recogniser:
    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.lock = threading.Lock()  # a decoder decodes one utterance at a time


@functools.lru_cache(maxsize=8)
def _recogniser(digest: str, context: str) -> _Recogniser:
    """A decoder for this context (`digest` keys the cache; the text builds it)."""
    from pocketsphinx import Decoder

    pronunciations = _dictionary()
    sentences = [line for line in (EVERYDAY + context).lower().splitlines() if line.strip()]
    sentences = [part for line in sentences for part in re.split(r"[.!?;:]", line)]
    vocabulary = sorted({word for sentence in sentences for word in _words(sentence)} & set(pronunciations))
    with tempfile.TemporaryDirectory(prefix="runner-hearing-") as folder:
        language_model, dictionary = Path(folder) / "context.arpa", Path(folder) / "context.dict"
        language_model.write_text(_arpa(sentences, set(vocabulary)), encoding="utf-8")
        dictionary.write_text("".join(line for word in vocabulary for line in pronunciations[word]), encoding="utf-8")
        decoder = Decoder(samprate=RATE, lm=str(language_model), dict=str(dictionary), logfn="/dev/null")
    return _Recogniser(decoder)


def _words(sentence: str) -> list[str]:
    return re.findall(r"[a-z]+(?:'[a-z]+)?", sentence)


@functools.lru_cache(maxsize=1)
def _dictionary() -> dict[str, list[str]]:
    """The wheel's pronunciation dictionary: word -> its lines (alternatives are `word(2)`)."""
    from pocketsphinx import get_model_path

    entries: dict[str, list[str]] = collections.defaultdict(list)
    with open(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict", encoding="utf-8") as lines:
        for line in lines:
            entries[line.split(" ", 1)[0].split("(", 1)[0]].append(line)
    return dict(entries)


def _arpa(sentences: Sequence[str], vocabulary: set[str]) -> str:
    """A bigram model in ARPA text: add-one unigrams, absolutely discounted bigrams with back-off weights."""
    unigrams: collections.Counter[str] = collections.Counter()
    bigrams: collections.Counter[tuple[str, str]] = collections.Counter()
    for sentence in sentences:
        words = ["<s>", *(word for word in _words(sentence) if word in vocabulary), "</s>"]
        unigrams.update(words)
        bigrams.update(zip(words, words[1:]))
    total, kinds = sum(unigrams.values()), len(unigrams)
    unigram_p = {word: (count + 1) / (total + kinds) for word, count in unigrams.items()}
    followers: dict[str, list[str]] = collections.defaultdict(list)
    for first, second in bigrams:
        followers[first].append(second)
    lines = ["\\data\\", f"ngram 1={len(unigrams)}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    for word in unigrams:
        probability = -99.0 if word == "<s>" else math.log10(unigram_p[word])
        if word == "</s>":
            lines.append(f"{probability:.4f} {word}")
            continue
        left = DISCOUNT * len(followers[word]) / unigrams[word]
        backoff = left / max(1e-9, 1 - sum(unigram_p[second] for second in followers[word]))
        lines.append(f"{probability:.4f} {word} {math.log10(backoff):.4f}")
    lines += ["", "\\2-grams:"]
    lines += [f"{math.log10((count - DISCOUNT) / unigrams[first]):.4f} {first} {second}" for (first, second), count in bigrams.items()]
    return "\n".join([*lines, "", "\\end\\", ""])


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance over the reference's length (lower case, punctuation ignored, digits as words)."""
    ref, hyp = (_words(re.sub(r"\d", lambda digit: f" {DIGITS[int(digit[0])]} ", text.lower())) for text in (reference, hypothesis))
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, start=1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1] / max(1, len(ref))



