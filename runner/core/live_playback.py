"""The agent's audio on GPT-Live, when we play it: which replies are still being heard.

GPT-Live's audio chunks carry no item id and no end (`session.output_audio.delta`), so a
reply's audio belongs to the assistant message being transcribed when it arrives, and is
complete when that message closes (a change of speaker or a gap: `live.py`). Nothing is
truncated afterwards: the history is append-only, and only a fixture cuts the model off.
"""

from __future__ import annotations

from runner.core.actions import Action, AudioComplete


class LivePlayback:
    """Replies whose audio was queued for playback and not yet heard in full."""

    __slots__ = ("_unheard", "_open")

    def __init__(self) -> None:
        self._unheard: set[str] = set()  # items with audio queued, not reported heard
        self._open: set[str] = set()  # of those, the ones whose audio may still grow

    @property
    def playing(self) -> bool:
        return bool(self._unheard)

    def queued(self, item_id: str) -> None:
        self._unheard.add(item_id)
        self._open.add(item_id)

    def complete(self, item_id: str) -> list[Action]:
        """The message closed: once its queued audio is heard, the reply is finished."""
        if item_id not in self._open:
            return []
        self._open.discard(item_id)
        return [AudioComplete(item_id)]

    def heard(self, item_id: str) -> None:
        self._unheard.discard(item_id)
        self._open.discard(item_id)

    def stopped(self) -> None:
        """Playback was stopped (a guardrail's fixture, the end): what was queued will not be heard."""
        self._unheard.clear()
        self._open.clear()
