"""`runner test`: scenario files, the player that runs them, and reporting."""

from .loader import SCHEMA_PATH, ScenarioSet, load_scenarios, scenarios_schema
from .model import Scenario, Step
from .player import Player, RunResult, StepFailure, play_all, run_scenarios, select
from .reporting import pass_rates, result_lines, summary_line, to_json, write_junit

__all__ = [
    "SCHEMA_PATH",
    "Player",
    "RunResult",
    "Scenario",
    "ScenarioSet",
    "Step",
    "StepFailure",
    "load_scenarios",
    "pass_rates",
    "play_all",
    "result_lines",
    "run_scenarios",
    "scenarios_schema",
    "select",
    "summary_line",
    "to_json",
    "write_junit",
]
