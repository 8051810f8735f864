"""Embed runner in your own program: one project, two callers at once, on the offline simulator.

    python examples/embed.py [FOLDER]

Each conversation gets its own variables, session id, state folder (FOLDER/<caller>,
a temporary folder by default) and artifacts; its records are printed as they happen.
Swap `SimulatorTransport()` for `OpenAITransport()` (OPENAI_API_KEY) to talk to the
Realtime API instead.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import runner
from runner.core.records import AssistantMessage, Handoff, ToolStarted, UserMessage

PROJECT = Path(__file__).resolve().parent.parent / "agents.yaml"
CALLERS = {
    "alex": ["Hi, I'm Alex, my phone is (555) 123-4567", "my wifi keeps disconnecting"],
    "sam": ["hello, this is Sam, my number is (555) 987-6543", "I want a refund for INV-2001"],
}


async def show(name: str, conversation: runner.Conversation) -> None:
    """Print what happens, as it happens; the iterator ends when the conversation closes."""
    async for record in conversation.records():
        match record:
            case UserMessage(text=text):
                print(f"[{name}] caller: {text}", flush=True)
            case AssistantMessage(agent=agent, text=text):
                print(f"[{name}] {agent}: {text}", flush=True)
            case ToolStarted(name=tool, arguments=arguments):
                print(f"[{name}] tool {tool}({arguments})", flush=True)
            case Handoff(source=source, target=target):
                print(f"[{name}] handoff {source} -> {target}", flush=True)


async def call(host: runner.Host, name: str, lines: list[str], state_dir: Path) -> None:
    async with host.open(variables={"company_name": "TechCorp"}, state_dir=state_dir, text=True) as conversation:
        printer = asyncio.create_task(show(name, conversation))
        await conversation.wait_idle()  # the router greets first
        for line in lines:
            await conversation.send_text(line)
            await conversation.wait_idle()
    await printer
    assert conversation.outcome is not None
    print(f"[{name}] session {conversation.id} ended ({conversation.outcome.reason}); artifacts in {conversation.folder}", flush=True)


async def main(folder: Path) -> None:
    project = runner.load_project(PROJECT)  # config checked, agents compiled on demand, tool modules imported once
    async with runner.Host(project, transport=runner.SimulatorTransport(), max_conversations=10) as host:
        await asyncio.gather(*(call(host, name, lines, folder / name) for name, lines in CALLERS.items()))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(scratch)))
