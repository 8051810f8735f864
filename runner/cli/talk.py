"""`runner run`: talk to a project, typed or spoken, live or on the simulator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .app import EXIT_FAILED, EXIT_FOR_END_REASON, EXIT_USAGE, TARGET_OPTION, check_agent_name, colour_wanted, config_or_exit, fail, main, parse_vars

if TYPE_CHECKING:
    from runner.config.model import Config

@main.command()
@click.argument("file")
@click.option("--text", is_flag=True, help="Type instead of talking; replies stream as text.")
@click.option("--offline", is_flag=True, help="Talk to the built-in simulator instead of the Realtime API.")
@click.option("--rules", "sim_rules", default="techcorp", show_default=True, metavar="NAME|PATH", help="Simulator rule set (with --offline).")
@click.option("--explain", is_flag=True, help="With --offline: show why the simulated model did each thing.")
@click.option("--base-url", metavar="URL", help="API base URL (also OPENAI_BASE_URL), e.g. for Azure-style or compatible servers.")
@click.option("--session-dir", type=click.Path(file_okay=False, path_type=Path), help="Parent folder of the session folders (default: <state_dir>/sessions).")
@click.option("--var", "pairs", multiple=True, metavar="NAME=VALUE", help="Set a template variable (repeatable).")
@click.option("--agent", "start", metavar="NAME", help="Start with this agent instead of the config's start.")
@click.option("--events", "show_events", is_flag=True, help="Also print every event name.")
@click.option("--no-guardrails", is_flag=True, help="Turn guardrail policies off for this run (also ENABLE_GUARDRAILS=false).")
@click.option("--sim-drop-after", type=int, metavar="N", hidden=True, help="Simulator drops the first connection after N events (reconnect testing).")
@click.option("--ptt", is_flag=True, help="Push-to-talk: press space to talk, press again (or let go) to send.")
@click.option("--half-duplex", is_flag=True, help="Mute the mic while the agent speaks (loudspeakers, noisy rooms).")
@click.option("--no-echo-gate", is_flag=True, help="Headphones: send the mic even while the agent speaks.")
@click.option("--input-device", metavar="INDEX|NAME", help="Microphone by index or part of its name (see --list-devices).")
@click.option("--output-device", metavar="INDEX|NAME", help="Speaker by index or part of its name (see --list-devices).")
@click.option("--list-devices", is_flag=True, is_eager=True, expose_value=False, callback=lambda ctx, param, value: _list_audio_devices(ctx) if value else None, help="List audio devices and exit (no FILE needed).")
@click.option("--input-wav", type=click.Path(dir_okay=False, path_type=Path), help="Read the user's audio from this WAV instead of the mic.")
@click.option("--output-wav", type=click.Path(dir_okay=False, path_type=Path), help="Write the agent's audio, as heard, to this WAV instead of the speaker.")
@click.option("--fast", is_flag=True, help="With WAV files: as fast as possible instead of real time.")
@click.option("--record", is_flag=True, help="Write recording.wav (you left, the agent right) in the session folder.")
@TARGET_OPTION
@click.option("--cushion-ms", type=click.IntRange(0, 1000), default=60, show_default=True, help="Audio buffered before playback starts.")
def run(
    file: str,
    text: bool,
    offline: bool,
    sim_rules: str,
    explain: bool,
    base_url: str | None,
    session_dir: Path | None,
    pairs: tuple[str, ...],
    start: str | None,
    show_events: bool,
    no_guardrails: bool,
    sim_drop_after: int | None,
    ptt: bool,
    half_duplex: bool,
    no_echo_gate: bool,
    input_device: str | None,
    output_device: str | None,
    input_wav: Path | None,
    output_wav: Path | None,
    fast: bool,
    record: bool,
    target: str | None,
    cushion_ms: int,
) -> None:
    """Talk to the agents in FILE (text with --text; --offline needs no API key).

    Ctrl-C or SIGTERM ends the session after the pending reply (exit 130 or 143); a
    second one stops at once.
    """
    import asyncio

    config = config_or_exit(file, target)
    if config.target == "live" and ptt:
        fail("--ptt cannot be used with GPT-Live: the model decides when the caller's turn ends", EXIT_USAGE)
    if start is not None:
        check_agent_name(file, config, start)
    if text and (ptt or half_duplex or no_echo_gate or input_device or output_device or input_wav or output_wav or record):
        fail("audio options cannot be combined with --text", EXIT_USAGE)
    if fast and input_wav is None and output_wav is None:
        fail("--fast only applies to --input-wav/--output-wav", EXIT_USAGE)
    if offline:
        _check_rules(sim_rules)
    _check_session_parent(session_dir, config)
    import runner
    from runner.run.chat import Opening, run_text
    from runner.run.console import Console

    opening = Opening(variables=parse_vars(pairs), session_dir=session_dir, start=start)
    project = runner.Project(config, guardrails=not no_guardrails)
    try:
        project.agents(text=text, variables=opening.variables, start=start)  # the user's --var and --agent first, then the key
        transport = runner.SimulatorTransport(sim_rules, drop_after_events=sim_drop_after) if offline else runner.OpenAITransport(base_url=base_url)
    except runner.SetupError as error:
        fail(str(error), EXIT_FAILED)
    colour = colour_wanted()
    console = Console(list(config.agents), show_events=show_events, explain=explain, colour=colour)
    summary: list[str] = []
    try:
        if text:
            folder, outcome = asyncio.run(run_text(project, transport, opening, console=console, colour=colour is not False))
        else:
            from runner.run.voice import VoiceOptions, run_voice

            voice = VoiceOptions(
                ptt=ptt,
                half_duplex=half_duplex,
                echo_gate=not no_echo_gate,
                input_device=input_device,
                output_device=output_device,
                input_wav=input_wav,
                output_wav=output_wav,
                fast=fast,
                record=record,
                cushion_ms=cushion_ms,
            )
            folder, outcome, summary = asyncio.run(run_voice(project, transport, opening, voice, console=console))
    except runner.SetupError as error:
        fail(str(error), EXIT_FAILED)
    except asyncio.CancelledError:
        fail("stopped", EXIT_FAILED)
    for line in summary:
        click.echo(f"runner: {line}", err=True)
    click.echo(f"runner: session ended ({outcome.reason}); artifacts in {folder}", err=True)
    if outcome.fatal_error:
        fail(outcome.fatal_error, EXIT_FAILED)
    if outcome.reason in EXIT_FOR_END_REASON:
        raise click.exceptions.Exit(EXIT_FOR_END_REASON[outcome.reason])


def _check_rules(name: str) -> None:
    """The simulator's rule set must load before anything is started or written."""
    from runner.sim.rule_file import RuleFileError, load_rules

    try:
        load_rules(name)
    except RuleFileError as error:
        for problem in error.problems:
            click.echo(problem.format(), err=True)
        raise click.exceptions.Exit(EXIT_USAGE) from None


def _check_session_parent(option: Path | None, config: Config) -> None:
    """The session folders' parent must be creatable: probe with a folder made and removed, so a failed run leaves nothing."""
    import tempfile

    parent = option if option is not None else config.state_dir / "sessions"
    shown, code = (f"--session-dir {option}", EXIT_USAGE) if option is not None else (f"session folder {parent}", EXIT_FAILED)
    existing = next(place for place in (parent, *parent.parents) if place.exists())
    if not existing.is_dir():
        fail(f"{shown}: {existing} is a file, not a folder", code)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".runner-probe-", dir=existing))
    except OSError as error:
        fail(f"{shown}: cannot create the folder: {error.strerror}", code)


def _list_audio_devices(ctx: click.Context) -> None:
    from runner.audio.devices import AudioDeviceError, format_devices, list_devices

    try:
        click.echo(format_devices(list_devices()))
    except AudioDeviceError as error:
        fail(str(error), EXIT_FAILED)
    ctx.exit(0)
