"""Voice latency: per turn (what the user waits for) and the local audio path (what we add).

Per turn, from the core's `TurnLatency` (driver seconds) and the `Player`'s accounting
(monotonic seconds, "heard" including the device latency): end of user speech → first
agent audio heard, → first audio byte received, and tool time. Interrupted turns are
listed but kept out of the medians. Locally: a mic block reaching the event loop → its
`append` handed to the socket, and an item's first audio delta received → its first
sample heard (cushion and device latency included).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

from ..audio.playback import Player
from ..host.report import latency_summary


class VoiceMetrics:
    """Collects timings as they happen; `report()` turns them into report.json's `voice` section.

    `offset` converts driver seconds to monotonic seconds (monotonic = driver + offset).
    """

    def __init__(self, offset: float) -> None:
        self._offset = offset
        self._first_item_of_turn: dict[int, str] = {}  # turn number -> the first item that answered it
        self._first_delta_at: dict[str, float] = {}  # item id -> monotonic time of its first delta
        self._appends_in_flight: deque[float] = deque()  # monotonic time each queued block reached the loop
        self.append_delays: list[float] = []
        self.truncations: list[dict[str, Any]] = []

    def item_audio(self, item_id: str, turn: Any, received_at: float) -> None:
        """The first audio of an item reached the player."""
        if item_id not in self._first_delta_at:
            self._first_delta_at[item_id] = received_at
            if turn is not None:
                self._first_item_of_turn.setdefault(turn.turn, item_id)

    def append_queued(self, at: float) -> None:
        self._appends_in_flight.append(at)

    def append_sent(self, at: float) -> None:
        if self._appends_in_flight:
            self.append_delays.append(at - self._appends_in_flight.popleft())

    def truncated(self, item_id: str, audio_end_ms: int) -> None:
        self.truncations.append({"item_id": item_id, "audio_end_ms": audio_end_ms})

    def delta_to_heard(self, player: Player) -> list[float]:
        delays = []
        for item_id, received_at in self._first_delta_at.items():
            stats = player.stats(item_id)
            if stats is not None and stats.first_heard_at is not None:
                delays.append(stats.first_heard_at - received_at)
        return delays

    def turns(self, latencies: Iterable[Any], player: Player) -> list[dict[str, Any]]:
        rows = []
        for turn in latencies:
            item_id = self._first_item_of_turn.get(turn.turn)
            stats = player.stats(item_id) if item_id is not None else None
            heard = None
            if stats is not None and stats.first_heard_at is not None:
                heard = stats.first_heard_at - self._offset - turn.user_turn_end
            rows.append({
                "turn": turn.turn,
                "voice_to_voice": heard,
                "first_audio_byte": turn.first_output_delay,
                "response_delay": turn.response_delay,
                "tool_seconds": turn.tool_seconds,
                "interrupted": turn.interrupted,
            })
        return rows

    def report(self, latencies: Iterable[Any], player: Player) -> dict[str, Any]:
        turns = self.turns(latencies, player)
        answered = [row for row in turns if not row["interrupted"]]
        return {
            "turns": turns,
            "voice_to_voice": latency_summary([row["voice_to_voice"] for row in answered if row["voice_to_voice"] is not None]),
            "first_audio_byte": latency_summary([row["first_audio_byte"] for row in answered if row["first_audio_byte"] is not None]),
            "tool_seconds": latency_summary([row["tool_seconds"] for row in answered if row["tool_seconds"]]),
            "interrupted_turns": len(turns) - len(answered),
            "local": {
                "mic_block_to_append": latency_summary(self.append_delays),
                "delta_to_first_heard": latency_summary(self.delta_to_heard(player)),
            },
            "truncations": self.truncations,
        }


def summary_lines(voice: dict[str, Any]) -> list[str]:
    """The console's end summary: medians of the answered turns and the local path."""

    def ms(summary: dict[str, float] | None) -> str:
        return "n/a" if summary is None else f"{summary['median_ms']:.0f} ms median, {summary['p90_ms']:.0f} ms p90 ({summary['count']})"

    answered = len(voice["turns"]) - voice["interrupted_turns"]
    return [
        f"turns: {answered} answered, {voice['interrupted_turns']} interrupted (interrupted turns are not averaged)",
        f"voice to voice (end of speech → first audio heard): {ms(voice['voice_to_voice'])}",
        f"first audio byte after end of speech: {ms(voice['first_audio_byte'])}",
        f"tool time inside turns: {ms(voice['tool_seconds'])}",
        f"local: mic block → append {ms(voice['local']['mic_block_to_append'])}; "
        f"audio received → heard {ms(voice['local']['delta_to_first_heard'])}",
    ]
