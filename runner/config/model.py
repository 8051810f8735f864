"""The validated configuration as frozen dataclasses.

These are what the rest of the runner consumes: the compiler, the session core,
the tool executor and the guardrail runner never look at raw YAML.  Every object
remembers where it came from (`Span`) so later checks can still point at a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

if TYPE_CHECKING:
    from .analysis import Analysis

Severity = Literal["error", "warning"]
ContextPolicy = Literal["keep", "reset", "summary"]  # what an agent sees of the conversation when handed it

# The moderation endpoint's category names (omni-moderation-latest): thresholds are keyed by these.
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass(frozen=True, slots=True)
class Span:
    """A 1-based position in a source file."""

    file: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class Variable:
    """A declared template variable for the instructions."""

    name: str
    type: Literal["string", "number", "integer", "boolean"] = "string"
    default: Any = None
    description: str = ""
    required: bool = False  # True when no default is given: must be supplied at run time


@dataclass(frozen=True, slots=True)
class TurnDetection:
    """`session.audio.input.turn_detection`; type "none" compiles to null."""

    type: Literal["server_vad", "semantic_vad", "none"] = "semantic_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    idle_timeout_ms: int | None = None
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool = True
    interrupt_response: bool = True


@dataclass(frozen=True, slots=True)
class Transcription:
    model: str = "gpt-4o-mini-transcribe"
    language: str | None = None
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Session-wide audio and response settings (top level, or per-agent overrides)."""

    turn_detection: TurnDetection = field(default_factory=TurnDetection)
    transcription: Transcription | None = field(default_factory=Transcription)
    noise_reduction: Literal["near_field", "far_field"] | None = None
    output_modality: Literal["audio", "text"] = "audio"
    max_output_tokens: int | Literal["inf"] = "inf"
    speed: float = 1.0
    input_format: Literal["audio/pcm", "audio/pcmu", "audio/pcma"] = "audio/pcm"
    output_format: Literal["audio/pcm", "audio/pcmu", "audio/pcma"] = "audio/pcm"
    tool_choice: Literal["auto", "none", "required"] = "auto"


@dataclass(frozen=True, slots=True)
class Limits:
    max_session_minutes: float = 30.0
    tool_timeout: float = 10.0  # seconds, default for tools without their own timeout
    filler_after: float = 2.0  # seconds a tool may run before the agent says it is working on it
    tool_output_max_chars: int = 16_000


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The `server:` section: what `runner serve` uses unless the environment or a flag says otherwise."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_concurrent_sessions: int = 100
    guardrails: bool = True
    rate_limit_rpm: int = 60  # new calls per minute per client address; 0: no limit
    cors: bool = False
    cors_origins: tuple[str, ...] = ()
    metrics: bool = True
    log_level: str | None = None  # None: warnings, as human lines on a terminal
    drain_timeout: float = 120.0  # seconds
    max_body_bytes: int = 1 << 20
    spans: Mapping[str, Span] = field(default_factory=dict)  # where each key was written


@dataclass(frozen=True, slots=True)
class Handoff:
    """An edge of the handoff graph: `source` may transfer to `target`."""

    target: str
    description: str | None = None  # per-edge override of the target's description
    span: Span | None = None
    context: ContextPolicy | None = None  # None: the target agent's own policy


@dataclass(frozen=True, slots=True)
class PythonBinding:
    module: str  # e.g. "tools.auth"; resolved relative to Config.base_dir
    function: str  # e.g. "authenticate_user"
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class HttpBinding:
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str  # template over the arguments (Jinja2 syntax), may contain ${ENV}
    body: Any = None  # JSON-like value whose strings are templates over the arguments
    headers: Mapping[str, str] = field(default_factory=dict)  # values may contain ${ENV}
    timeout: float | None = None
    allow_private: bool = False  # allow link-local and cloud-metadata targets (loopback is always allowed)
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class McpBinding:
    """A remote MCP server the Realtime service calls itself (compiled to a `type: mcp` tool)."""

    server_url: str  # may contain ${ENV}
    allowed_tools: tuple[str, ...] = ()
    require_approval: Literal["always", "never"] = "never"
    headers: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    span: Span | None = None
    approve: Literal["always", "never"] | tuple[str, ...] = "never"  # how the runner answers approval requests


@dataclass(frozen=True, slots=True)
class LocalMcpBinding:
    """An MCP server the runner connects to itself (stdio `command` or streamable HTTP `url`); its tools become function tools."""

    command: tuple[str, ...] = ()  # stdio: argv, run in the config's folder
    url: str | None = None  # streamable HTTP; may contain ${ENV}
    allowed_tools: tuple[str, ...] = ()  # empty: all the server lists
    headers: Mapping[str, str] = field(default_factory=dict)  # values may contain ${ENV}
    span: Span | None = None


Binding = PythonBinding | HttpBinding | McpBinding | LocalMcpBinding


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: Mapping[str, Any]  # a JSON Schema with type: object
    binding: Binding
    timeout: float | None = None  # None: Limits.tool_timeout
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class RegexPattern:
    pattern: str
    category: str
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class Guardrail:
    name: str
    kind: Literal["regex", "moderation", "classifier"]
    checks: tuple[Literal["assistant", "user"], ...] = ("assistant",)
    action: Literal["block", "log", "end_session"] = "block"
    on_error: Literal["open", "closed"] = "open"
    applies_to_all: bool = False  # `global: true` in YAML
    timeout: float = 2.0
    check_every_chars: int = 100
    hint: str = ""  # what the model is told to do instead, used in the corrective message
    # regex
    patterns: tuple[RegexPattern, ...] = ()
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # category -> words
    # moderation: category -> score threshold
    moderation_model: str = "omni-moderation-latest"
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # classifier
    classifier_model: str = "gpt-4.1-mini"
    categories: tuple[str, ...] = ("OFFENSIVE", "OFF_BRAND", "VIOLENCE", "NONE")
    instructions: str = ""
    refusal: str = ""  # for user-input trips: what the agent says instead
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    description: str
    instructions: str  # the Jinja2 template source, unrendered
    voice: str | None = None  # None: Config.voice
    tools: tuple[str, ...] = ()
    handoffs: tuple[Handoff, ...] = ()
    on_enter: str | None = None
    speaks_first: bool = False  # as the start agent, it opens the conversation (`speaks_first` in YAML)
    greeting: str | None = None  # `speaks_first: <text>`: added to the instructions of that opening reply
    guardrails: tuple[str, ...] = ()  # names of policies listed by this agent
    session: SessionSettings | None = None  # fully merged settings when overridden
    transfer_to: str | None = None  # a person's tel: or sip: URI: on a phone call, a handoff here transfers the call
    dtmf: Mapping[str, str] = field(default_factory=dict)  # keypad key -> the agent a press hands the caller to
    span: Span | None = None
    instructions_span: Span | None = None  # where the template's first line starts
    context: ContextPolicy = "keep"  # what it sees of the conversation when handed it (an edge's own wins)
    thinking_sound: str | None = None  # None: the project's `thinking_sound`


Target = Literal["realtime", "live"]
LIVE_MODEL_PREFIX = "gpt-live-"  # a model named so runs on GPT-Live (/v1/live/sessions)


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """What only GPT-Live has (`live:`): its voice model, and the backend Responses model it delegates to."""

    model: str = "gpt-live-1"  # used when the top-level model is a Realtime one
    backend_model: str = "gpt-5.4-mini"
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None
    instructions: str | None = None  # the voice model's own prompt; None: the runner's default


@dataclass(frozen=True, slots=True)
class Config:
    path: Path  # absolute path of the agents file
    version: int
    name: str
    model: str
    start: str
    voice: str
    variables: Mapping[str, Variable]
    session: SessionSettings
    limits: Limits
    agents: Mapping[str, Agent]  # insertion order = file order
    tools: Mapping[str, Tool]
    guardrails: Mapping[str, Guardrail]
    state_dir: Path  # absolute; tools get it as ToolContext.state_dir
    setup: PythonBinding | None = None  # called once before a session starts
    sip_numbers: Mapping[str, str] = field(default_factory=dict)  # called number -> the agent that answers it (`sip.numbers`)
    server: ServerSettings = field(default_factory=ServerSettings)
    analysis: Analysis | None = None  # post-call analysis (runner/analysis.py); None: none
    target: Target = "realtime"  # `target:`, or live when the model is a gpt-live-* model
    live: LiveSettings = field(default_factory=LiveSettings)
    thinking_sound: str = "builtin"  # while a tool runs or a handoff is under way: builtin, off, or an absolute WAV path

    @property
    def base_dir(self) -> Path:
        """Folder that python bindings and relative paths resolve against."""
        return self.path.parent

    @property
    def live_model(self) -> str:
        """The GPT-Live model: the top-level one when it is a Live model, else `live.model`."""
        return self.model if self.model.startswith(LIVE_MODEL_PREFIX) else self.live.model

    def session_for(self, agent: Agent) -> SessionSettings:
        return agent.session or self.session

    def thinking_sound_for(self, agent: Agent) -> str:
        """builtin, off, or the absolute path of a WAV: the agent's own, else the project's."""
        return agent.thinking_sound or self.thinking_sound

    def voice_for(self, agent: Agent) -> str:
        return agent.voice or self.voice

    def guardrails_for(self, agent: Agent) -> tuple[Guardrail, ...]:
        """Global policies first, then the agent's own, each once."""
        chosen = [g for g in self.guardrails.values() if g.applies_to_all]
        chosen += [self.guardrails[n] for n in agent.guardrails if n in self.guardrails and not self.guardrails[n].applies_to_all]
        return tuple(chosen)
