"""TechCorp's example tools for agents.yaml: plain functions over a SQLite database.

Each tool takes JSON-like arguments and returns a JSON-serialisable dict; a bad
argument gives `{"error": "..."}` rather than an exception.  Each also takes the
runner's `context` (a ToolContext; None when run alone), whose `state_dir` says which
database to use.  `tools.db.initialise` creates and seeds the database (the config's
`setup` hook).  The modules import each other relatively (`from .db import connect`):
the runner loads a project's modules under a package name of its own.
"""
