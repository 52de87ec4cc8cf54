#!/usr/bin/env bash
# `make run`: ingest the sample documents, show a search and an answer, then serve the API and the
# web UI until Ctrl-C (which stops both).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
# Ports come from the settings (environment or .env), like every other option.
read -r API_PORT UI_PORT < <("$BIN/python" -c 'from app.settings import get_settings as g; s = g(); print(s.api_port, s.ui_port)')
API_URL="http://127.0.0.1:${API_PORT}"

"$BIN/citewise" ingest docs --collection docs --sync
"$BIN/citewise" search "How do I ingest a folder of documents?" --collection docs -k 3
"$BIN/citewise" ask "How do I ingest a folder of documents?" --collection docs

"$BIN/citewise" serve --port "$API_PORT" &
API_PID=$!
trap 'kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true' EXIT INT TERM

echo "==> waiting for the API to load its models …"
READY=no
for _ in $(seq 1 300); do
    if ! kill -0 "$API_PID" 2>/dev/null; then
        echo "error: the API stopped (is port ${API_PORT} taken? set CITEWISE_API_PORT)" >&2
        exit 1
    fi
    if "$BIN/python" -c "import sys, httpx; sys.exit(httpx.get('${API_URL}/readyz', timeout=2).status_code != 200)" 2>/dev/null; then
        READY=yes
        break
    fi
    sleep 1
done
if [ "$READY" != yes ]; then
    echo "warning: the API is not ready after 5 minutes (see ${API_URL}/readyz); starting the UI anyway" >&2
fi

echo
echo "  API:  ${API_URL}   (interactive docs: ${API_URL}/docs)"
echo "  UI:   http://127.0.0.1:${UI_PORT}"
echo "  Ctrl-C stops both."
echo
"$BIN/citewise" ui --port "$UI_PORT" --api-url "$API_URL"
