"""The handoff graph as text, and rendering it through the real Graphviz `dot`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from runner import graph
from runner.config import load

SHOP = """\
version: 1
name: Graph test
start: desk
agents:
  desk:
    description: Front desk.
    instructions: Greet the caller.
    tools: [lookup_order]
    handoffs:
      - orders
      - agent: returns
        description: 'Returns & "refunds" <30 days>'
  orders:
    description: Orders.
    instructions: Help with orders.
    handoffs: [desk]
  returns:
    description: Returns.
    instructions: Help with returns.
    tools: [lookup_order, cancel_order]
tools:
  lookup_order:
    description: Look an order up.
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    python: shop_tools:lookup_order
  cancel_order:
    description: Cancel an order.
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    python: shop_tools:cancel_order
"""

REPO = Path(__file__).resolve().parents[2]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "agents.yaml"
    path.write_text(SHOP)
    result = load(path, import_code=False)
    assert result.config is not None, [p.format() for p in result.problems]
    return result.config


def test_mermaid_marks_the_start_lists_tools_and_labels_described_edges(shop):
    assert graph.mermaid(shop) == (
        "flowchart TD\n"
        "    classDef start stroke-width:3px\n"
        '    a0(["desk (start)<br/>tools: lookup_order"]):::start\n'
        '    a1(["orders"])\n'
        '    a2(["returns<br/>tools: lookup_order, cancel_order"])\n'
        "    a0 --> a1\n"
        '    a0 -->|"Returns #amp; #quot;refunds#quot; #lt;30 days#gt;"| a2\n'
        "    a1 --> a0\n"
    )


def test_dot_is_top_down_with_one_tool_per_line_and_two_way_edges_merged(shop):
    assert graph.dot(shop) == (
        "digraph handoffs {\n"
        "    rankdir=TB;\n"
        "    nodesep=0.5;\n"
        "    ranksep=0.7;\n"
        '    node [shape=box, style=rounded, fontname="Helvetica", margin="0.2,0.1"];\n'
        '    edge [fontname="Helvetica", fontsize=10];\n'
        '    "desk" [label="desk (start)\\n\\ntools:\\llookup_order\\l", penwidth=3];\n'
        '    "orders" [label="orders"];\n'
        '    "returns" [label="returns\\n\\ntools:\\llookup_order\\lcancel_order\\l"];\n'
        '    "desk" -> "orders" [dir=both];\n'
        '    "desk" -> "returns" [label="Returns & \\"refunds\\" <30 days>"];\n'
        "}\n"
    )


def test_dot_wraps_long_edge_labels_and_keeps_a_labelled_edge_apart_from_its_reverse(tmp_path):
    path = tmp_path / "agents.yaml"
    path.write_text(SHOP.replace("'Returns & \"refunds\" <30 days>'", "Anything about sending an order back within thirty days.")
                    .replace("    tools: [lookup_order, cancel_order]\n", "    tools: [lookup_order, cancel_order]\n    handoffs: [desk]\n"))
    config = load(path, import_code=False).config
    edges = [line for line in graph.dot(config).splitlines() if " -> " in line]
    assert edges == [
        '    "desk" -> "orders" [dir=both];',
        '    "desk" -> "returns" [label="Anything about sending an order\\nback within thirty days."];',
        '    "returns" -> "desk";',
    ]


@needs_dot
def test_the_example_graph_renders_taller_than_a_strip(tmp_path):
    """The issue's SVG was a 1600 x 192 strip; top-down it is about as tall as it is wide."""
    config = load(REPO / "agents.yaml", import_code=False).config
    output = tmp_path / "graph.svg"
    graph.render_image(graph.dot(config), output)
    size = re.search(r'<svg width="(\d+)pt" height="(\d+)pt"', output.read_text())
    width, height = int(size[1]), int(size[2])
    assert width < 1.5 * height, (width, height)
    assert width < 900, width


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_render_image_writes_the_format_of_the_suffix(shop, tmp_path, suffix, magic):
    output = tmp_path / f"graph{suffix}"
    graph.render_image(graph.dot(shop), output)
    assert output.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["agents.yaml", output.name])


@needs_dot
def test_a_rendered_image_gets_the_usual_file_mode_not_the_temporary_files(shop, tmp_path):
    import os

    output = tmp_path / "graph.png"
    previous = os.umask(0o022)
    try:
        graph.render_image(graph.dot(shop), output)
    finally:
        os.umask(previous)
    assert output.stat().st_mode & 0o777 == 0o644


@needs_dot
def test_svg_contains_every_agent(shop, tmp_path):
    output = tmp_path / "graph.svg"
    graph.render_image(graph.dot(shop), output)
    text = output.read_text()
    for name in ("desk (start)", "orders", "returns"):
        assert name in text


def test_missing_graphviz_is_one_clear_line_and_no_file(shop, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    output = tmp_path / "graph.svg"
    with pytest.raises(graph.RenderError) as caught:
        graph.render_image(graph.dot(shop), output)
    assert str(caught.value) == (
        f"Graphviz's `dot` is not on PATH: install the graphviz package "
        f"(for example `apt-get install graphviz`) to render {output}"
    )
    assert not output.exists()


@needs_dot
def test_dot_failure_leaves_no_file_behind(tmp_path):
    output = tmp_path / "graph.svg"
    with pytest.raises(graph.RenderError) as caught:
        graph.render_image("digraph {", output)
    assert str(caught.value).startswith(f"dot failed to render {output}: ")
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_failed_render_keeps_an_existing_file(tmp_path):
    output = tmp_path / "graph.svg"
    output.write_text("previous")
    with pytest.raises(graph.RenderError):
        graph.render_image("digraph {", output)
    assert output.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.svg"]


def test_unknown_image_suffix_is_refused(shop, tmp_path):
    with pytest.raises(graph.RenderError) as caught:
        graph.render_image(graph.dot(shop), tmp_path / "graph.gif")
    assert str(caught.value) == f"cannot render {tmp_path / 'graph.gif'}: use one of .svg, .png, .pdf"


@needs_dot
def test_missing_output_folder_is_reported(shop, tmp_path):
    output = tmp_path / "nowhere" / "graph.svg"
    with pytest.raises(graph.RenderError) as caught:
        graph.render_image(graph.dot(shop), output)
    assert str(caught.value) == f"cannot write {output}: folder {output.parent} does not exist"


def test_example_project_graph_has_every_agent_and_edge():
    config = load(REPO / "agents.yaml", import_code=False).config
    text = graph.dot(config)
    drawn = set()
    for line in text.splitlines():
        if " -> " in line:
            source, target = re.findall(r'"([^"]+)"', line)[:2]
            drawn.add((source, target))
            if "[dir=both]" in line:
                drawn.add((target, source))
    for name, agent in config.agents.items():
        assert f'"{name}" [label="{name}' in text
    assert drawn == {(name, edge.target) for name, agent in config.agents.items() for edge in agent.handoffs}
