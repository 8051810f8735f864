"""Output other programs read: `runner compile` as one JSON document or JSON lines, `runner schema --write`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from runner.protocol import client_event_problems

RUNNER = Path(sys.executable).parent / "runner"
REPO = Path(__file__).resolve().parents[2]
EXAMPLE_AGENTS = ["router", "support", "sales", "billing", "human"]
PUBLISHED_SCHEMA = (REPO / "runner" / "schemas" / "agents.schema.json").read_text(encoding="utf-8")


def test_compile_output_pipes_into_json_tool():
    """The command from the issue, as a shell pipeline: one JSON document, keyed by agent in file order."""
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"'{RUNNER}' compile agents.yaml | python3 -m json.tool"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    document = json.loads(done.stdout)
    assert list(document) == EXAMPLE_AGENTS
    for event in document.values():
        assert event["type"] == "session.update"
        assert client_event_problems(event) == []
    assert document["router"]["session"]["audio"]["output"]["voice"] == "marin"
    assert all("voice" not in document[name]["session"]["audio"]["output"] for name in EXAMPLE_AGENTS[1:])


def test_compile_one_agent_is_still_one_document_keyed_by_its_name(runner):
    done = runner("compile", "shop/agents.yaml", "--agent", "returns")
    assert (done.returncode, done.stderr) == (0, "")
    document = json.loads(done.stdout)
    assert list(document) == ["returns"]
    assert document["returns"]["session"]["instructions"] == "You handle returns for Acme."


def test_compile_jsonl_prints_one_compact_event_per_line_in_file_order(runner):
    done = runner("compile", "shop/agents.yaml", "--jsonl")
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert events == list(json.loads(runner("compile", "shop/agents.yaml").stdout).values())
    assert [event["session"]["instructions"] for event in events] == [
        "You are the front desk of Acme.", "You answer order questions for Acme.", "You handle returns for Acme.",
    ]
    assert lines[0] == json.dumps(events[0], ensure_ascii=False, separators=(",", ":"))


def test_compile_jsonl_with_one_agent(runner):
    done = runner("compile", "shop/agents.yaml", "--jsonl", "--agent", "orders")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert json.loads(line)["session"]["instructions"] == "You answer order questions for Acme."


# schema --write


def _modeline_hint(folder: Path, name: str = "agents.schema.json") -> str:
    return f"point the first line of an agents file in {folder} at it: # yaml-language-server: $schema=./{name}\n"


def test_schema_write_into_a_folder(runner, tmp_path):
    done = runner("schema", "--write", str(tmp_path))
    written = tmp_path / "agents.schema.json"
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"wrote {written}\n" + _modeline_hint(tmp_path)
    assert written.read_text(encoding="utf-8") == PUBLISHED_SCHEMA
    assert list(tmp_path.iterdir()) == [written]


def test_schema_write_next_to_the_users_agents_file(runner, tmp_path):
    agents = tmp_path / "agents.yaml"
    agents.write_text("version: 1\n", encoding="utf-8")
    done = runner("schema", "--write", str(agents))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "agents.schema.json").read_text(encoding="utf-8") == PUBLISHED_SCHEMA
    assert agents.read_text(encoding="utf-8") == "version: 1\n"
    assert done.stdout.splitlines()[-1] == _modeline_hint(tmp_path).rstrip("\n")


def test_schema_write_to_a_json_path_replaces_an_older_copy_with_the_usual_mode(runner, tmp_path):
    target = tmp_path / "runner.schema.json"
    target.write_text("{}", encoding="utf-8")
    previous = os.umask(0o022)
    try:
        done = runner("schema", "--write", str(target))
    finally:
        os.umask(previous)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {target}\n" + _modeline_hint(tmp_path, "runner.schema.json")
    assert target.read_text(encoding="utf-8") == PUBLISHED_SCHEMA
    assert target.stat().st_mode & 0o777 == 0o644
    assert list(tmp_path.iterdir()) == [target]


def test_schema_write_to_a_missing_folder_is_one_line(runner, tmp_path):
    target = tmp_path / "nowhere" / "agents.schema.json"
    done = runner("schema", "--write", str(target))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"runner: cannot write {target}: folder {target.parent} does not exist\n"
    assert list(tmp_path.iterdir()) == []


def test_schema_write_to_a_path_that_does_not_exist_is_a_usage_error(runner, tmp_path):
    target = tmp_path / "schemas"
    done = runner("schema", "--write", str(target))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"runner: --write {target}: no such folder or file (give a folder, your agents file, or a path ending in .json)\n"
    )


def test_schema_write_that_cannot_replace_the_target_leaves_no_temporary_file(runner, tmp_path):
    (tmp_path / "agents.schema.json").mkdir()  # the name is taken by a folder
    done = runner("schema", "--write", str(tmp_path))
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"runner: cannot write {tmp_path / 'agents.schema.json'}: Is a directory\n"
    assert [path.name for path in tmp_path.iterdir()] == ["agents.schema.json"]
    assert list((tmp_path / "agents.schema.json").iterdir()) == []
