"""The handoff graph as Mermaid or Graphviz text, and rendering it to an image.

Agents are nodes (the start agent drawn bold, each labelled with its tools); handoff
edges are arrows, labelled when the edge has its own description.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from runner.config.model import Agent, Config

IMAGE_FORMATS = ("svg", "png", "pdf")
GRAPHVIZ_MISSING = "Graphviz's `dot` is not on PATH: install the graphviz package (for example `apt-get install graphviz`) to render {path}"


class RenderError(Exception):
    """Rendering an image failed; the message is one line ready to print."""


def _node_label(config: Config, agent: Agent) -> list[str]:
    title = f"{agent.name} (start)" if agent.name == config.start else agent.name
    lines = [title]
    if agent.tools:
        lines.append("tools: " + ", ".join(agent.tools))
    return lines


def mermaid(config: Config) -> str:
    """A Mermaid flowchart; node ids are positional so any agent name is safe."""
    ids = {name: f"a{index}" for index, name in enumerate(config.agents)}
    out = ["flowchart LR", "    classDef start stroke-width:3px"]
    for name, agent in config.agents.items():
        label = "<br/>".join(_mermaid_text(line) for line in _node_label(config, agent))
        suffix = ":::start" if name == config.start else ""
        out.append(f'    {ids[name]}(["{label}"]){suffix}')
    for name, agent in config.agents.items():
        for edge in agent.handoffs:
            label = f'|"{_mermaid_text(edge.description)}"|' if edge.description else ""
            out.append(f"    {ids[name]} -->{label} {ids[edge.target]}")
    return "\n".join(out) + "\n"


def _mermaid_text(text: str) -> str:
    """Mermaid entity codes for the characters that end or mark up a quoted label."""
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;").replace("\n", " ")


def dot(config: Config) -> str:
    """A Graphviz digraph; names are quoted so any agent name is safe."""
    out = [
        "digraph handoffs {",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for name, agent in config.agents.items():
        label = "\\n".join(_dot_text(line) for line in _node_label(config, agent))
        bold = ", penwidth=3" if name == config.start else ""
        out.append(f'    "{_dot_text(name)}" [label="{label}"{bold}];')
    for name, agent in config.agents.items():
        for edge in agent.handoffs:
            label = f' [label="{_dot_text(edge.description)}"]' if edge.description else ""
            out.append(f'    "{_dot_text(name)}" -> "{_dot_text(edge.target)}"{label};')
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_image(dot_source: str, output: Path) -> None:
    """Render with Graphviz into `output` (format from its suffix), all or nothing.

    The image is written to a temporary file beside `output` and moved into place only
    when `dot` succeeded, so a failure never leaves a half-written file.
    """
    image_format = output.suffix.lower().lstrip(".")
    if image_format not in IMAGE_FORMATS:
        raise RenderError(f"cannot render {output}: use one of .{', .'.join(IMAGE_FORMATS)}")
    dot_program = shutil.which("dot")
    if dot_program is None:
        raise RenderError(GRAPHVIZ_MISSING.format(path=output))
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise RenderError(f"cannot write {output}: folder {folder} does not exist")
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as error:
        raise RenderError(f"cannot write {output}: {error.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as sink:
            result = subprocess.run(
                [dot_program, f"-T{image_format}"], input=dot_source.encode(), stdout=sink, stderr=subprocess.PIPE
            )
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()
            raise RenderError(f"dot failed to render {output}: {detail[0] if detail else f'exit {result.returncode}'}")
        try:
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a new file gets the usual mode
            os.replace(temporary, output)
        except OSError as error:
            raise RenderError(f"cannot write {output}: {error.strerror}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    current = os.umask(0)
    os.umask(current)
    return current
