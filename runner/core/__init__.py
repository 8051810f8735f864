"""The sans-I/O session core: server events and local inputs in, actions out."""

from runner.core.actions import Action, AudioComplete, CheckGuardrail, EndSession, Play, RunTool, Send, StopPlayback
from runner.core.playback import heard_text
from runner.core.records import (
    AgentStartedSpeaking, AgentStoppedSpeaking, AssistantDelta, AssistantMessage, ConnectionLost, ConnectionRestored,
    ErrorReported, GuardrailTripped, Handoff, Heard, Interrupted, LatencyMeasured, Notice, Record, ToolFinished,
    ToolStarted, UsageUpdated, UserMessage, UserStartedSpeaking, UserStoppedSpeaking,
)
from runner.core.session import Session
from runner.core.states import Connection, Output, Playback, ResponsePhase, States, UserTurn
from runner.core.transcript import Breadcrumb, HandoffRecord, Message, ToolCall, TranscriptEntry, TurnLatency, Usage

__all__ = [
    "Action", "AgentStartedSpeaking", "AudioComplete", "Connection", "Output", "Playback", "ResponsePhase", "States", "UserTurn", "AgentStoppedSpeaking", "AssistantDelta", "AssistantMessage", "Breadcrumb",
    "CheckGuardrail", "ConnectionLost", "ConnectionRestored", "EndSession", "ErrorReported", "GuardrailTripped",
    "Handoff", "HandoffRecord", "Heard", "Interrupted", "LatencyMeasured", "Message", "Notice", "Play", "Record",
    "RunTool", "Send", "Session", "StopPlayback", "ToolCall", "ToolFinished", "ToolStarted", "TranscriptEntry",
    "TurnLatency", "Usage", "UsageUpdated", "UserMessage", "UserStartedSpeaking", "UserStoppedSpeaking", "heard_text",
]
