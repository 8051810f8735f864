"""The sans-I/O session core: server events and local inputs in, actions out."""

from runner.core.actions import Action, AudioComplete, CheckGuardrail, EndSession, Play, RunTool, Send, StopPlayback
from runner.core.playback import heard_text
from runner.core.records import (
    AgentStartedSpeaking, AgentStoppedSpeaking, AssistantDelta, AssistantMessage, CallTransferRequested, ConnectionLost, ConnectionRestored,
    ErrorReported, GuardrailTripped, Handoff, Heard, Interrupted, KeyPressed, LatencyMeasured, Notice, Record, ToolFinished,
    ToolStarted, UsageUpdated, UserMessage, UserStartedSpeaking, UserStoppedSpeaking,
)
from runner.core.session import Session
from runner.core.states import Connection, Output, Playback, ResponsePhase, States, UserTurn
from runner.core.transcript import Breadcrumb, HandoffRecord, Message, ToolCall, TranscriptEntry, TurnLatency, Usage

__all__ = [
    "Action", "AgentStartedSpeaking", "AudioComplete", "Connection", "Output", "Playback", "ResponsePhase", "States", "UserTurn", "AgentStoppedSpeaking", "AssistantDelta", "AssistantMessage", "Breadcrumb",
    "CallTransferRequested", "CheckGuardrail", "ConnectionLost", "ConnectionRestored", "EndSession", "ErrorReported", "GuardrailTripped",
    "Handoff", "HandoffRecord", "Heard", "Interrupted", "KeyPressed", "LatencyMeasured", "Message", "Notice", "Play", "Record",
    "RunTool", "Send", "Session", "StopPlayback", "ToolCall", "ToolFinished", "ToolStarted", "TranscriptEntry",
    "TurnLatency", "Usage", "UsageUpdated", "UserMessage", "UserStartedSpeaking", "UserStoppedSpeaking", "heard_text",
]
