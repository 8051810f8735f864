"""The offline simulator: a GA Realtime WebSocket server and a fake OpenAI REST server."""

from .brain import Call, Say, Turn, decide
from .rule_file import RuleFileError, RuleSet, load_rules, parse_rules
from .server import Simulator

__all__ = ["Call", "RuleFileError", "RuleSet", "Say", "Simulator", "Turn", "decide", "load_rules", "parse_rules"]
