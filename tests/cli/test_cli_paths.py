"""Paths the user gives that cannot be used: one line naming the path and the problem, never a traceback."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOP = str(Path(__file__).parent / "fixtures" / "shop" / "agents.yaml")
NO_PLACE = "/proc/1/no-such-folder"  # cannot be created, even by root


def test_session_dir_under_a_file_is_a_usage_error(runner, tmp_path):
    (tmp_path / "afile").write_text("not a folder\n")
    done = runner("run", SHOP, "--text", "--offline", "--session-dir", "afile/sub", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", "runner: --session-dir afile/sub: afile is a file, not a folder\n")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["afile"]


def test_session_dir_that_cannot_be_created_is_a_usage_error(runner, tmp_path):
    done = runner("run", SHOP, "--text", "--offline", "--session-dir", f"{NO_PLACE}/x", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"runner: --session-dir {NO_PLACE}/x: cannot create the folder: No such file or directory\n")


def test_unknown_rule_set_is_a_usage_error_before_anything_is_written(runner, tmp_path):
    done = runner("run", SHOP, "--text", "--offline", "--rules", "nope", "--session-dir", "sessions", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "nope:1:1: no rule file or bundled rule set named 'nope' (bundled rule sets: techcorp)\n"
    assert not (tmp_path / "sessions").exists()


def test_junit_report_that_cannot_be_written_is_reported_after_the_results(runner):
    done = runner("test", "scenarios/human.yaml", "--junit-xml", f"{NO_PLACE}/results.xml", cwd=REPO)
    assert done.returncode == 1
    assert done.stdout.splitlines()[-1].endswith(" passed, 0 failed")
    assert done.stderr == f"runner: cannot write the JUnit report to {NO_PLACE}/results.xml: No such file or directory\n"


def test_validate_an_endless_device_stops_at_the_size_cap(runner):
    done = runner("validate", "/dev/zero")
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout == "/dev/zero:1:1: cannot read the file: it is larger than 16 MiB, too large for an agents file\n/dev/zero: 1 error\n"


def test_input_wav_from_an_endless_device_is_refused_at_its_header(runner, tmp_path):
    done = runner("run", str(REPO / "agents.yaml"), "--offline", "--input-wav", "/dev/zero", "--output-wav", "out.wav", "--fast", "--session-dir", "s", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "runner: /dev/zero: not a WAV file (no RIFF/WAVE header)"
    assert "Traceback" not in done.stderr
