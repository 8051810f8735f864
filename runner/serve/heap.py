"""The server process's heap settled before it takes calls: what a call uses loaded first, then frozen.

`gc.freeze()` moves every object that exists into a generation the collector never walks.
A call loads more lazily (openai's client, its realtime types and pydantic models,
websockets, the session compiler): imported by the first call, after the freeze, those
~70 thousand objects were walked by the full collections that follow, a 45-65 ms pause
of every live call each (bench/bench_webrtc.py prints the server's collector pauses).
"""

from __future__ import annotations

import gc
import importlib

CALL_MODULES = (
    "openai",
    "openai.types.realtime",
    "websockets.asyncio.client",
    "websockets.exceptions",
    "jiter",
    "concurrent.futures.thread",
    "runner.host.transport",
    "runner.host.conversation",
    "runner.host.report",
    "runner.compile",
    "runner.bindings.executor",
    "runner.bindings.setup",
)


def settle() -> None:
    """Load what every call uses, collect once, and freeze what is left out of the collector's passes."""
    for name in CALL_MODULES:
        importlib.import_module(name)
    from openai import AsyncOpenAI

    # A client that never connects: building one loads its HTTP stack and realtime resources
    # (httpcore, h11, anyio, truststore), whose module names are the SDK's own business.
    unused = AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1", max_retries=0)
    unused.realtime.calls, unused.realtime.client_secrets
    del unused
    gc.collect()
    gc.freeze()
