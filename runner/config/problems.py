"""Located problems: the one shape every config and scenario error takes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .model import Severity


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input file, pointing at where it is.

    `path` is the dotted location inside the document (``agents.router.handoffs[1]``),
    empty for problems about the file as a whole.
    """

    file: str
    line: int
    col: int
    path: str
    message: str
    hint: str | None = None
    severity: Severity = "error"

    def format(self) -> str:
        """`file:line:col: path: message (hint)`; warnings say so after the path."""
        where = f"{self.file}:{self.line}:{self.col}: "
        if self.path:
            where += f"{self.path}: "
        label = "warning: " if self.severity == "warning" else ""
        tail = f" ({self.hint})" if self.hint else ""
        return f"{where}{label}{self.message}{tail}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
