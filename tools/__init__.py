"""TechCorp's example tools for agents.yaml: plain functions over a SQLite database.

Each tool takes JSON-like arguments and returns a JSON-serialisable dict; a bad
argument gives `{"error": "..."}` rather than an exception.  `tools.db.initialise`
creates and seeds the database (the config's `setup` hook).
"""
