"""The `runner` command line: parse, call the library, render, exit (0 ok, 1 failed, 2 usage).

Only click and the standard library are imported here at start-up: validate, compile
and graph have a 300 ms budget, so each command imports what it needs when it runs.
"""

from . import analyze, project, serve, talk, testing  # noqa: F401  (each module adds its commands to the group)
from .app import main

__all__ = ["main"]
