#!/usr/bin/env bash
# Set up and run every test: system packages for the headless audio tests, a
# virtual environment with the project and its dev extras, pytest, then the
# example project's scenarios through `runner test`.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
packages=(pulseaudio pulseaudio-utils libasound2-plugins libportaudio2 espeak-ng sox graphviz iproute2
  chromium postgresql haproxy)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
# Debian and Ubuntu ship Python's venv module separately.
"$python" -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q 'pip>=24,<27'
.venv/bin/python -m pip install -q -c requirements.lock -e '.[dev]'

# Both suites run whatever the first one says; the script fails if either failed.
status=0
.venv/bin/python -m pytest "$@" || status=1
.venv/bin/runner test scenarios/ || status=1
exit $status
