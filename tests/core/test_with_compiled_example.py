"""The core driven with the real compiler's output for the example project."""

from pathlib import Path

from runner.compile import compile_config
from runner.config import load

EXAMPLE = Path(__file__).resolve().parents[2] / "agents.yaml"


def test_the_example_project_starts_hands_off_and_checks_its_global_policies(make_session, server, h):
    config = load(EXAMPLE).config
    agents = compile_config(config)
    s = make_session(agents, config.start, guardrails=config.guardrails, limits=config.limits)
    assert h.sent(s.start(0.0))[0]["session"]["audio"]["output"]["voice"] == "marin"
    actions = s.feed(server.response_created("r1"), server.call("r1", "t1", "transfer_to_billing", '{"reason": "refund"}'),
                     server.response_done("r1"), now=1.0)
    assert h.sent_types(actions) == ["session.update", "conversation.item.create", "response.create"]
    billing = agents["billing"]
    assert h.sent(actions)[-1]["response"] == {"instructions": f"{billing.session['instructions']}\n\n{billing.on_enter}"}
    checked = s.feed(*server.spoken_reply("r2", "a2", "Billing here, which invoice is it about?"), now=2.0)
    assert [c.policy for c in h.checks(checked)] == ["competitor_mentions", "unauthorised_promises"]
