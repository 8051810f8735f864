"""Random interleavings against a fake server that keeps the service's rules.

Invariants: the core never sends `response.create` while it knows a response is active or
its previous request is unanswered, and every function call is answered exactly once.
"""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from runner.config.model import Limits
from runner.core import RunTool, Send, StopPlayback

CALL_NAMES = ["authenticate_user", "transfer_to_support", "transfer_to_billing", "transfer_to_router", "lookup_invoice", "search_knowledge_base"]


def build(make_session, server):
    class Conversation(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.s = make_session(limits=Limits(filler_after=1.0))
            self.now = 0.0
            self.active: str | None = None  # the response the server is producing
            self.fed_active = False  # as the core has been told
            self.outstanding: str | None = None  # our response.create without created/error yet
            self.inbox: list[dict] = []  # server replies not delivered yet
            self.responses = 0
            self.calls: list[str] = []
            self.answers: Counter[str] = Counter()
            self.running: list[str] = []
            self.violations: list[str] = []
            self.take(self.s.start(self.now))

        # ---- the fake service ------------------------------------------------------
        def take(self, actions) -> None:
            for action in actions:
                if isinstance(action, RunTool):
                    self.running.append(action.call_id)
                elif isinstance(action, StopPlayback):
                    self.take(self.s.playback_stopped(None, 0, self.now))
                elif isinstance(action, Send):
                    self.client_event(action.event)

        def client_event(self, event: dict) -> None:
            kind = event["type"]
            if kind == "response.create":
                if self.fed_active or self.outstanding is not None:
                    self.violations.append(f"response.create while busy: {event['event_id']}")
                self.outstanding = event["event_id"]
                if self.active is not None:
                    self.inbox.append(server.error("conversation_already_has_active_response", "busy", event_id=event["event_id"]))
                else:
                    self.responses += 1
                    self.active = f"r{self.responses}"
                    self.inbox.append(server.response_created(self.active))
            elif kind == "conversation.item.create" and event["item"]["type"] == "function_call_output":
                self.answers[event["item"]["call_id"]] += 1

        def feed(self, event: dict) -> None:
            if event["type"] == "response.created":
                self.fed_active = True
                self.outstanding = None
            elif event["type"] == "response.done":
                self.fed_active = False
            elif event["type"] == "error" and event["error"]["event_id"] == self.outstanding:
                self.outstanding = None
            self.take(self.s.receive(event, self.now))

        # ---- rules -----------------------------------------------------------------
        @rule(text=st.sampled_from(["hi", "refund please", "my wifi"]))
        def user_types(self, text):
            self.take(self.s.user_text(text, self.now))

        @precondition(lambda self: bool(self.inbox))
        @rule()
        def deliver(self):
            self.feed(self.inbox.pop(0))

        @precondition(lambda self: self.active is None)
        @rule()
        def server_vad_starts_a_response(self):
            self.responses += 1
            self.active = f"r{self.responses}"
            self.inbox.append(server.response_created(self.active))

        @precondition(lambda self: self.active is not None and self.fed_active)
        @rule(name=st.sampled_from(CALL_NAMES), reason=st.sampled_from(['{"reason": "x"}', "{", "{}"]))
        def model_calls_a_function(self, name, reason):
            call_id = f"call{len(self.calls)}"
            self.calls.append(call_id)
            self.feed(server.call(self.active, call_id, name, reason))

        @precondition(lambda self: self.active is not None and self.fed_active)
        @rule(ms=st.integers(1, 400))
        def model_speaks(self, ms):
            item = f"{self.active}_msg"
            self.feed(server.message_added(self.active, item))
            self.feed(server.audio(self.active, item, ms))
            self.feed(server.transcript_delta(self.active, item, "words "))

        @precondition(lambda self: self.active is not None and self.fed_active and not self.inbox)
        @rule(status=st.sampled_from(["completed", "cancelled"]))
        def response_finishes(self, status):
            done, self.active = self.active, None
            self.feed(server.response_done(done, status))

        @precondition(lambda self: bool(self.running))
        @rule(index=st.integers(0, 5), failed=st.booleans())
        def a_tool_finishes(self, index, failed):
            call_id = self.running.pop(index % len(self.running))
            self.take(self.s.tool_done(call_id, json.dumps({"ok": not failed}), error="boom" if failed else None, duration=0.1, now=self.now))

        @rule()
        def user_starts_speaking(self):
            self.feed(server.speech_started())

        @rule(seconds=st.floats(0.1, 3.0))
        def time_passes(self, seconds):
            self.now += seconds
            self.take(self.s.tick(self.now))

        @invariant()
        def never_two_responses_in_flight(self):
            assert self.violations == []

        @invariant()
        def no_call_answered_twice(self):
            assert all(count == 1 for count in self.answers.values()), self.answers

        def teardown(self):
            for _ in range(200):
                if self.inbox:
                    self.deliver()
                elif self.running:
                    self.a_tool_finishes(0, False)
                elif self.active is not None and self.fed_active:
                    self.response_finishes("completed")
                else:
                    break
            assert self.violations == []
            assert {call: self.answers[call] for call in self.calls} == {call: 1 for call in self.calls}

    return Conversation


def test_random_interleavings_keep_the_invariants(make_session, server):
    machine = build(make_session, server)
    machine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
    machine.TestCase().runTest()
