"""`runner run --offline --explain`: the simulated model says why it did each thing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PIZZA = Path(__file__).parent / "projects" / "pizza" / "agents.yaml"


def test_explain_prints_each_decision_of_the_simulated_model(tmp_path: Path) -> None:
    typed = "a large veggie pizza to 4 Elm Road please\n"
    done = subprocess.run([sys.executable, "-m", "runner", "run", str(PIZZA), "--offline", "--text", "--explain", "--session-dir", str(tmp_path)],
                          input=typed, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "  ? why: greeted with the instructions' first sentence\n" in done.stdout
    assert "  ? why: handed off to orders: 'pizza' matched its description" in done.stdout
    assert ("  ? why: called place_order: 'pizza' matched its description; pizza='veggie' ('veggie' in what the user just said); size='large' ('large' in what the user just said); "
            "quantity=1 ('a' in what the user just said); address='4 Elm Road' ('4 Elm Road' in what the user just said)\n") in done.stdout


def test_without_explain_nothing_is_explained(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "runner", "run", str(PIZZA), "--offline", "--text", "--session-dir", str(tmp_path)],
                          input="hello\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "why:" not in done.stdout
