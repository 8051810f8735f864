"""The config language: load an agents file into the `Config` model with located problems."""

from .binding_checks import interpolate_env
from .loader import LoadResult, load
from .problems import Problem
from .schema import SCHEMA_PATH, agents_schema
from .templates import render_instructions, resolve_variables

__all__ = [
    "SCHEMA_PATH",
    "LoadResult",
    "Problem",
    "agents_schema",
    "interpolate_env",
    "load",
    "render_instructions",
    "resolve_variables",
]
