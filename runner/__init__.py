"""runner: describe a team of voice agents in YAML and talk to it."""

__version__ = "0.1.0"
