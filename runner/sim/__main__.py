"""`python -m runner.sim [--port P] [--rules techcorp]`: serve the simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import sys

from .rule_file import RuleFileError
from .server import Simulator


async def serve(port: int, rules: str | None, rest_port: int = 0, *, until_stdin_closes: bool = False) -> None:
    """Run a simulator on 127.0.0.1 until cancelled (or, for a parent process, until its stdin closes), printing where to connect."""
    async with Simulator(rules, port=port, rest_port=rest_port) as sim:
        print(f"realtime: {sim.ws_base_url}  (AsyncOpenAI(websocket_base_url=..., api_key='sk-sim'))", flush=True)
        print(f"rest:     {sim.http_base_url}", flush=True)
        if until_stdin_closes:
            await asyncio.to_thread(sys.stdin.read)  # the parent exited, however it died
        else:
            await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.sim", description="Serve the offline Realtime simulator.")
    parser.add_argument("--port", type=int, default=0, help="WebSocket port (default: any free port)")
    parser.add_argument("--rest-port", type=int, default=0, help="REST port (default: any free port)")
    parser.add_argument("--rules", default="techcorp", help="a bundled rule set's name or a rule file path")
    parser.add_argument("--until-stdin-closes", action="store_true", help="for a parent process: stop when standard input closes")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.port, args.rules, args.rest_port, until_stdin_closes=args.until_stdin_closes))
    except RuleFileError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"cannot serve on port {args.port}: {error.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
