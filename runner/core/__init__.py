"""The sans-I/O session core: server events and local inputs in, actions out."""

from runner.core.actions import Action, CheckGuardrail, EndSession, Play, Record, RunTool, Send, StopPlayback
from runner.core.guarding import heard_text
from runner.core.records import Breadcrumb, HandoffRecord, Message, ToolCall, TranscriptEntry, TurnLatency, Usage
from runner.core.session import Session

__all__ = [
    "Action", "Breadcrumb", "CheckGuardrail", "EndSession", "HandoffRecord", "Message", "Play", "Record",
    "RunTool", "Send", "Session", "StopPlayback", "ToolCall", "TranscriptEntry", "TurnLatency", "Usage",
    "heard_text",
]
