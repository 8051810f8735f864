"""pipecat as a peer: `OpenAIRealtimeLLMService` run headless (no transport), text output.

One pipeline per conversation: user aggregator → the realtime service → a sink that
notices the turn's final reply → assistant aggregator (pipecat's default
`LLMContextAggregatorPair`, so its user-turn strategies load as an app's would).  Tools
are registered with `register_function`; a handoff is the transfer tool's handler putting
an `LLMUpdateSettingsFrame` (the other agent's instructions) into the service's own queue,
which sends the `session.update`.

The first user turn goes in as `LLMMessagesAppendFrame(run_llm=True)` through the user
aggregator, which sets the conversation up.  Later ones cannot: in realtime mode that
aggregator only updates its context, and an append that reaches the service is sent as a
`system` message, which the simulator (like the model) does not take as the user
speaking.  So they go in with the service's public `send_client_event`: the user item and
a `response.create`.  Both agents offer the same three tools (pipecat has no
agents: the tool set stays put, only the instructions change).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from peers import API_KEY, REPLY_TIMEOUT, Peer, Talk
from sim_process import AGENTS, MODEL, instructions


def pipecat_peer(folder: Path) -> Peer:
    from loguru import logger

    logger.remove()  # pipecat logs every frame at DEBUG to stderr by default; an app would too, but not at that level
    logger.add(lambda message: None, level="WARNING")
    logging.getLogger("pipecat").setLevel(logging.WARNING)

    from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
    from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
    from pipecat.frames.frames import EndFrame, Frame, LLMFullResponseEndFrame, LLMMessagesAppendFrame, LLMTextFrame, LLMUpdateSettingsFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.services.llm_service import FunctionCallParams
    from pipecat.services.openai.realtime import events
    from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
    from pipecat.workers.runner import WorkerRunner

    names = ("noop", *(f"transfer_to_{agent}" for agent in AGENTS))
    tools = ToolsSchema(standard_tools=[FunctionSchema(name=name, description=name, properties={}, required=[]) for name in names])

    class ReplySink(FrameProcessor):
        """Sets `replied` when a response that carried text ends: the turn's final reply."""

        def __init__(self) -> None:
            super().__init__()
            self.replied: asyncio.Queue[None] = asyncio.Queue()
            self._saw_text = False

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, LLMTextFrame):
                self._saw_text = True
            elif isinstance(frame, LLMFullResponseEndFrame) and self._saw_text:
                self._saw_text = False
                self.replied.put_nowait(None)
            await self.push_frame(frame, direction)

    async def noop(params: FunctionCallParams) -> None:
        await params.result_callback("ok")

    def transfer(agent: str) -> Any:
        async def handler(params: FunctionCallParams) -> None:
            delta = OpenAIRealtimeLLMService.Settings(system_instruction=instructions(agent))
            await params.llm.queue_frame(LLMUpdateSettingsFrame(delta=delta))
            await params.result_callback({"assistant": agent})

        return handler

    @asynccontextmanager
    async def conversation(ws_url: str) -> AsyncIterator[Talk]:
        settings = OpenAIRealtimeLLMService.Settings(
            model=MODEL,
            system_instruction=instructions(AGENTS[0]),
            session_properties=events.SessionProperties(output_modalities=["text"], tools=tools),
        )
        llm = OpenAIRealtimeLLMService(api_key=API_KEY, base_url=ws_url, settings=settings)
        llm.register_function("noop", noop)
        for agent in AGENTS:
            llm.register_function(f"transfer_to_{agent}", transfer(agent))
        aggregators = LLMContextAggregatorPair(LLMContext())
        sink = ReplySink()
        worker = PipelineWorker(Pipeline([aggregators.user(), llm, sink, aggregators.assistant()]), params=PipelineParams(), enable_rtvi=False, enable_turn_tracking=False, check_dangling_tasks=False)
        running = asyncio.create_task(WorkerRunner(handle_sigint=False, check_dangling_tasks=False).run(worker))

        first = True

        async def talk(text: str) -> None:
            nonlocal first
            if first:  # sets the conversation up: the context, then a response
                await worker.queue_frame(LLMMessagesAppendFrame(messages=[{"role": "user", "content": text}], run_llm=True))
            else:
                content = [events.ItemContent(type="input_text", text=text)]
                await llm.send_client_event(events.ConversationItemCreateEvent(item=events.ConversationItem(type="message", role="user", content=content)))
                await llm.send_client_event(events.ResponseCreateEvent(response=events.ResponseProperties(output_modalities=["text"])))
            first = False
            await asyncio.wait_for(sink.replied.get(), REPLY_TIMEOUT)

        try:
            yield talk
        finally:
            await worker.queue_frame(EndFrame())
            try:
                await asyncio.wait_for(running, 10)
            except asyncio.TimeoutError:
                await worker.cancel()

    return conversation
