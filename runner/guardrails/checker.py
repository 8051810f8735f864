"""Run one guardrail policy on one text: the driver's answer to `CheckGuardrail`."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Callable, Literal, Mapping

from runner.config.model import Guardrail
from runner.guardrails.regex import RegexPolicy
from runner.guardrails.remote import MalformedAnswer, classify, moderate
from runner.guardrails.verdict import Verdict

if TYPE_CHECKING:
    from openai import AsyncOpenAI

Role = Literal["assistant", "user"]
_ENDPOINTS = {"moderation": "/v1/moderations", "classifier": "/v1/responses"}


class GuardrailChecker:
    """Runs regex checks inline and HTTP checks as awaits; `check` never raises.

    `client_factory` builds the `AsyncOpenAI` client on the first HTTP check (so a
    config with only regex policies never needs one); call `aclose()` when done. With
    `shared_client`, the factory's client belongs to someone else (a host's transport,
    shared by all its conversations) and `aclose()` leaves it open.
    """

    def __init__(
        self, policies: Mapping[str, Guardrail], *, client_factory: Callable[[], AsyncOpenAI] | None = None, shared_client: bool = False
    ) -> None:
        needs_client = [policy.name for policy in policies.values() if policy.kind != "regex"]
        if needs_client and client_factory is None:
            raise ValueError(f"guardrail '{needs_client[0]}' calls the OpenAI API, so GuardrailChecker needs a client_factory")
        self._policies = dict(policies)
        self._regex = {name: RegexPolicy(policy) for name, policy in policies.items() if policy.kind == "regex"}
        self._client_factory = client_factory
        self._shared_client = shared_client
        self._client: AsyncOpenAI | None = None
        # (policy, role) -> the last text checked without a hit: a growing text resumes from its end
        self._scanned: dict[tuple[str, Role], str] = {}

    async def check(self, policy_name: str, text: str, *, role: Role = "assistant", final: bool = True) -> Verdict:
        """Check `text` against one policy, with the policy's `on_error` applied to failures.

        `final=False` marks a check on a reply that is still streaming: a regex match
        touching the end of the text waits for the next check, as the word may go on.
        """
        policy = self._policies.get(policy_name)
        if policy is None:
            return Verdict(tripped=False, error=f"unknown guardrail policy '{policy_name}'")
        if policy.kind == "regex":
            return self._check_regex(policy_name, text, role, final)
        return await self._check_remote(policy, text, role)

    def _check_regex(self, policy_name: str, text: str, role: Role, final: bool) -> Verdict:
        key = (policy_name, role)
        previous = self._scanned.get(key)
        scanned = len(previous) if previous is not None and text.startswith(previous) else 0
        hit = self._regex[policy_name].find(text, scanned=scanned, settled_only=not final)
        if hit is None:
            self._scanned[key] = text
            return Verdict.passed()
        return Verdict(tripped=True, category=hit.category, rationale=f'matched "{hit.matched}"')

    async def _check_remote(self, policy: Guardrail, text: str, role: Role) -> Verdict:
        from openai import APIConnectionError, APIResponseValidationError, APIStatusError

        endpoint = _ENDPOINTS[policy.kind]
        try:
            async with asyncio.timeout(policy.timeout):
                client = self._get_client()
                if policy.kind == "moderation":
                    return await moderate(client, policy, text)
                return await classify(client, policy, text, role)
        except TimeoutError:
            return Verdict.failed(policy, f"{endpoint} gave no answer within {policy.timeout:g} s")
        except APIStatusError as error:
            return Verdict.failed(policy, f"{endpoint} answered HTTP {error.status_code}: {_error_message(error.body)}")
        except APIConnectionError as error:
            return Verdict.failed(policy, f"{endpoint} could not be reached: {error.__cause__ or error}")
        except (MalformedAnswer, APIResponseValidationError) as error:
            return Verdict.failed(policy, f"{endpoint} gave a malformed answer: {error}")
        except json.JSONDecodeError as error:
            return Verdict.failed(policy, f"{endpoint} gave a malformed answer: the body is not JSON ({error})")
        except Exception as error:  # the contract is "never raises": an unforeseen failure is still only a failed check
            return Verdict.failed(policy, f"{endpoint} check failed: {type(error).__name__}: {error}")

    def _get_client(self) -> AsyncOpenAI:
        if self._client is None:
            assert self._client_factory is not None  # checked in __init__ for every non-regex policy
            # no retries: a second attempt would not fit in the check's time budget
            self._client = self._client_factory().with_options(max_retries=0)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client, if one was made here."""
        if self._client is not None and not self._shared_client:
            await self._client.close()
        self._client = None

    async def __aenter__(self) -> GuardrailChecker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _error_message(body: object) -> str:
    """The `error.message` of an OpenAI error body, or the body itself when it has none."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return str(body)
