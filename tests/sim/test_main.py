"""`python -m runner.sim` serves until Ctrl-C and says where."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

from websockets.sync.client import connect


def test_module_entry_serves_prints_urls_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen([sys.executable, "-m", "runner.sim", "--rules", "techcorp"], stdout=subprocess.PIPE, text=True)
    try:
        realtime = process.stdout.readline()
        rest = process.stdout.readline()
        url = re.match(r"realtime: (ws://127\.0\.0\.1:\d+/v1) ", realtime).group(1)
        assert re.fullmatch(r"rest: +http://127\.0\.0\.1:\d+/v1\n", rest)
        with connect(f"{url}/realtime?model=gpt-realtime-2.1", additional_headers={"Authorization": "Bearer sk-sim"}) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
