"""`runner analyze`: run the post-call analysis again on a session folder that already exists."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import click

from .app import EXIT_FAILED, EXIT_USAGE, config_or_exit, fail, main


@main.command()
@click.argument("session_dir", type=click.Path(path_type=Path))
@click.option("--config", "config_file", metavar="FILE", help="The agents file whose analysis section to use (default: the one report.json names).")
@click.option("--offline", is_flag=True, help="Ask the built-in simulator instead of the Responses API (no API key needed).")
@click.option("--no-webhook", is_flag=True, help="Write analysis.json only; do not post it to the webhook.")
def analyze(session_dir: Path, config_file: str | None, offline: bool, no_webhook: bool) -> None:
    """Analyse the finished session in SESSION_DIR: analysis.json, report.json's summary, the webhook."""
    if not session_dir.is_dir():
        fail(f"{session_dir}: no such session folder", EXIT_USAGE)
    if not (session_dir / "transcript.jsonl").is_file():
        fail(f"{session_dir}: no transcript.jsonl here, so not a session folder", EXIT_USAGE)
    config_file = config_file or _config_named_by_report(session_dir)
    config = config_or_exit(config_file)
    if config.analysis is None:
        fail(f"{config_file}: no analysis section, so there is nothing to run (add one; see the README)", EXIT_USAGE)
    document = asyncio.run(_analyse(session_dir, config, offline=offline, webhook=not no_webhook))
    click.echo(_outcome_line(session_dir, document))
    hook = document["webhook"]
    raise click.exceptions.Exit(0 if document["status"] == "completed" and (hook is None or hook["delivered"]) else EXIT_FAILED)


def _config_named_by_report(folder: Path) -> str:
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        return str(report["config"]["path"])
    except (OSError, ValueError, KeyError, TypeError):
        fail(f"{folder}: report.json does not say which agents file the session ran; pass --config FILE", EXIT_USAGE)


async def _analyse(folder: Path, config: Any, *, offline: bool, webhook: bool) -> dict[str, Any]:
    from runner.analysis import run
    from runner.host.artifacts import Redactor
    from runner.host.errors import SetupError
    from runner.host.transports import OFFLINE_API_KEY, OpenAITransport

    redact = Redactor.for_config(config, os.environ).text
    if not offline:
        try:
            transport = OpenAITransport(environ=os.environ)
        except SetupError as error:
            fail(str(error), EXIT_USAGE)
        try:
            return await run(folder, config.analysis, transport.rest_client(), environ=os.environ, redact=redact, webhook=webhook)
        finally:
            await transport.aclose()
    from openai import AsyncOpenAI

    from runner.sim.rest import RestSimulator

    async with RestSimulator() as rest:
        client = AsyncOpenAI(api_key=OFFLINE_API_KEY, base_url=rest.base_url, max_retries=0)
        async with client:
            return await run(folder, config.analysis, client, environ=os.environ, redact=redact, webhook=webhook)


def _outcome_line(folder: Path, document: dict[str, Any]) -> str:
    where = folder / "analysis.json"
    if document["status"] != "completed":
        line = f"{where}: analysis failed: {document['error']}"
    else:
        verdict = document["success"]
        line = f"{where}: analysis completed" + (f" (success: {json.dumps(verdict['value'])})" if verdict else "")
    hook = document["webhook"]
    if hook is not None:
        line += "; webhook delivered" if hook["delivered"] else f"; webhook {hook['error']}"
    return line
