"""The README's embedding example runs, and `import runner` stays light."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "RUNNER_"))}
    env["PYTHONPATH"] = str(REPO)
    return env


def test_examples_embed_holds_two_conversations_at_once(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(REPO / "examples" / "embed.py"), str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=_env())
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    alex = [line for line in lines if line.startswith("[alex] ")]
    sam = [line for line in lines if line.startswith("[sam] ")]
    assert "[alex] router: Thanks, Alex, you're verified. How can I help you today?" in alex
    assert "[alex] handoff router -> support" in alex
    assert '[sam] tool authenticate_user({"phone": "(555) 987-6543"})' in sam
    assert "[sam] handoff router -> billing" in sam
    for name, mine in (("alex", alex), ("sam", sam)):
        assert mine[-1].startswith(f"[{name}] session ") and f"ended (session closed); artifacts in {tmp_path / name / 'sessions'}" in mine[-1]
        folder = Path(mine[-1].rsplit("artifacts in ", 1)[1])
        assert (folder / "report.json").is_file() and (folder / "transcript.jsonl").is_file()


def test_import_runner_loads_no_heavy_module() -> None:
    probe = "import sys, runner; runner.Host; print(sorted(m for m in ('openai', 'numpy', 'httpx', 'sounddevice', 'websockets') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=_env())
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")
