"""`runner serve` freezes a heap that already holds what a call loads, so the collector's full passes stay short."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.host.embedding import write_project

REPO = Path(__file__).resolve().parents[2]

# One text conversation (a tool call on the tool thread, then a reply) through the OpenAI transport
# against a simulator in another process, after the heap was frozen one way or the other; prints
# the objects the collector still walks.
CALL_AFTER_FREEZE = textwrap.dedent('''
    import asyncio, gc, sys
    from pathlib import Path
    import runner

    async def main(mode, base_url, state_dir):
        project = runner.load_project(sys.argv[4])
        if mode == "settle":
            from runner.serve.heap import settle
            settle()
        else:  # what `runner serve` did: freeze what loading the project had imported
            gc.collect()
            gc.freeze()
        transport = runner.OpenAITransport(api_key="sk-sim", base_url=base_url)
        async with runner.Host(project, transport=transport) as host:
            async with host.open(variables={"customer": "C-1"}, state_dir=Path(state_dir), text=True) as conversation:
                await conversation.wait_idle()
                await conversation.send_text("who am i")
                await conversation.wait_idle()
        gc.collect()
        print(len(gc.get_objects()))

    asyncio.run(main(*sys.argv[1:4]))
''')


def _unfrozen_after_a_call(mode: str, tmp_path: Path) -> int:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "RUNNER_"))}
    env["PYTHONPATH"] = str(REPO)
    agents = write_project(tmp_path / "project")
    simulator = subprocess.Popen([sys.executable, "-m", "runner.sim", "--rules", str(tmp_path / "project" / "rules.yaml")],
                                 stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert simulator.stdout is not None
        ws_base = simulator.stdout.readline().split()[1]  # "realtime: ws://127.0.0.1:P/v1  (...)"
        done = subprocess.run([sys.executable, "-c", CALL_AFTER_FREEZE, mode, ws_base.replace("ws://", "http://"), str(tmp_path / mode), str(agents)],
                              capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    finally:
        simulator.kill()
        simulator.wait()
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_a_call_after_settle_leaves_the_collector_a_small_heap(tmp_path: Path) -> None:
    plain = _unfrozen_after_a_call("plain", tmp_path)
    settled = _unfrozen_after_a_call("settle", tmp_path)
    assert plain > 40_000, plain  # openai's client and types, pydantic, websockets: loaded by the first call
    assert settled < 15_000, (settled, plain)
