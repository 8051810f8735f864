"""The handoff graph as Mermaid or Graphviz text, and rendering it to an image.

Agents are nodes (the start agent drawn bold, each labelled with its tools); handoff
edges are arrows, labelled when the edge has its own description.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

from runner.atomic import WriteError, replacing
from runner.config.model import Agent, Config

IMAGE_FORMATS = ("svg", "png", "pdf")
EDGE_LABEL_WIDTH = 32  # characters per line of an edge label in the dot graph
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
    out = ["flowchart TD", "    classDef start stroke-width:3px"]
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
    """A Graphviz digraph, laid out top-down; names are quoted so any agent name is safe.

    Tools are listed one per line and long edge labels wrapped, so nodes stay narrow;
    a pair of unlabelled edges between two agents is drawn as one two-headed arrow.
    """
    out = [
        "digraph handoffs {",
        "    rankdir=TB;",
        "    nodesep=0.5;",
        "    ranksep=0.7;",
        '    node [shape=box, style=rounded, fontname="Helvetica", margin="0.2,0.1"];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for name, agent in config.agents.items():
        bold = ", penwidth=3" if name == config.start else ""
        out.append(f'    "{_dot_text(name)}" [label="{_dot_node_label(config, agent)}"{bold}];')
    out += [f"    {line};" for line in _dot_edges(config)]
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_node_label(config: Config, agent: Agent) -> str:
    """The title centred, then the tools left-aligned one per line (`\\l` ends a left-aligned line)."""
    title = _dot_text(f"{agent.name} (start)" if agent.name == config.start else agent.name)
    if not agent.tools:
        return title
    return f"{title}\\n\\ntools:\\l" + "".join(f"{_dot_text(tool)}\\l" for tool in agent.tools)


def _dot_edges(config: Config) -> list[str]:
    """Edges in file order; an unlabelled edge whose reverse is also unlabelled becomes `dir=both`."""
    unlabelled = {(name, edge.target) for name, agent in config.agents.items() for edge in agent.handoffs if not edge.description}
    lines: list[str] = []
    merged: set[tuple[str, str]] = set()
    for name, agent in config.agents.items():
        for edge in agent.handoffs:
            pair = (name, edge.target)
            if pair in merged:
                continue
            arrow = f'"{_dot_text(name)}" -> "{_dot_text(edge.target)}"'
            if edge.description:
                label = "\\n".join(_dot_text(line) for line in textwrap.wrap(edge.description, EDGE_LABEL_WIDTH))
                lines.append(f'{arrow} [label="{label}"]')
            elif (edge.target, name) in unlabelled:
                merged.add((edge.target, name))
                lines.append(f"{arrow} [dir=both]")
            else:
                lines.append(arrow)
    return lines


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
    try:
        with replacing(output) as sink:
            result = subprocess.run(
                [dot_program, f"-T{image_format}"], input=dot_source.encode(), stdout=sink, stderr=subprocess.PIPE
            )
            if result.returncode != 0:
                detail = result.stderr.decode(errors="replace").strip().splitlines()
                raise RenderError(f"dot failed to render {output}: {detail[0] if detail else f'exit {result.returncode}'}")
    except WriteError as error:
        raise RenderError(str(error)) from None
