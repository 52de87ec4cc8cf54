#!/usr/bin/env bash
# `make image-test`: build the Citewise image with podman and run it for real, alone and as the
# compose stack, with no container registry (docs/deployment.md).
#
#   1. container tools (apt) and podman-compose (into .venv), if missing;
#   2. base images from Debian's archive (scripts/image/base_images.sh; kept between runs);
#   3. the image from the Dockerfile, with the host's pip configuration mounted into the build;
#   4. `citewise serve` in the image, until /readyz answers 200;
#   5. the compose stack: postgres, redis, api, worker, ui; a document uploaded through the API is
#      ingested by the worker, and a question about it is answered citing it;
#   6. everything it started is removed again (the images stay, as a cache).
#
# Root is needed (rootful podman). Timings and the image size are printed and written to
# bench/results/image.json.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/scripts/image/containers.conf}
WORK=${IMAGE_WORK:-/var/tmp/citewise-image}
IMAGE=${CITEWISE_IMAGE:-localhost/citewise:latest}
PROJECT=citewise-image-test
API_PORT=${IMAGE_TEST_API_PORT:-18000}
STACK_API_PORT=${IMAGE_TEST_STACK_API_PORT:-18001}
UI_PORT=${IMAGE_TEST_UI_PORT:-18501}
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p "$WORK" bench/results

say() { printf '==> %s\n' "$*"; }
fail() { printf 'image-test: FAILED: %s\n' "$*" >&2; exit 1; }
declare -A timing

# --- 1. tools ---------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || fail "run as root: the test uses rootful podman"
missing=()
for tool in podman buildah runc iptables netavark debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/lib/podman/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing the container tools (${missing[*]})"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman buildah runc iptables netavark \
        aardvark-dns debootstrap >/dev/null
fi
[ -x "$PYTHON" ] || fail "no $PYTHON: run make install first"
"$PYTHON" -c 'import podman_compose' 2>/dev/null || "$PYTHON" -m pip install --quiet 'podman-compose>=1.0'
COMPOSE=("$PYTHON" -m podman_compose -p "$PROJECT")

cleanup() {
    podman rm -f "$PROJECT-single" >/dev/null 2>&1 || true
    podman volume rm -f "$PROJECT-single-data" >/dev/null 2>&1 || true
    "${COMPOSE[@]}" down -v >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

# --- 2. base images ----------------------------------------------------------------------------
start=$SECONDS
bash scripts/image/base_images.sh
timing[base_images_s]=$((SECONDS - start))

# --- 3. the image ------------------------------------------------------------------------------
# The build reaches the package index as this host does: its pip settings, and the local paths
# they name (wheel directories, file:// indexes, the CA bundle), mounted read-only.
"$PYTHON" - "$WORK/pip.conf" "$WORK/mounts" <<'PY'
import os, subprocess, sys
from urllib.parse import urlsplit
lines = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
found = {}
for line in lines.splitlines():
    key, _, value = line.partition("=")
    section, _, name = key.partition(".")
    if section in ("global", "install") and name in ("index-url", "extra-index-url", "find-links", "cert", "trusted-host"):
        found[name] = value.strip("'\"")
for name in ("index-url", "extra-index-url", "find-links", "cert", "trusted-host"):
    env = os.environ.get("PIP_" + name.upper().replace("-", "_"))
    if env:
        found[name] = env
paths = set()
for value in found.values():
    for item in value.split():
        path = urlsplit(item).path if item.startswith("file://") else item
        if os.path.basename(path.rstrip("/")) == "simple":  # a file index links to files beside it
            path = os.path.dirname(path.rstrip("/"))
        if path.startswith("/") and os.path.exists(path):
            paths.add(path)
with open(sys.argv[1], "w") as out:
    out.write("[global]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(found.items())))
with open(sys.argv[2], "w") as out:
    out.write("".join(f"{p}\n" for p in sorted(paths)))
PY
build_args=(--network host -v "$WORK/pip.conf:/etc/pip.conf:ro")
while read -r path; do build_args+=(-v "$path:$path:ro"); done <"$WORK/mounts"
say "building $IMAGE (the first build compiles llama.cpp: about 20 minutes on 2 cores)"
start=$SECONDS
podman build "${build_args[@]}" -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; fail "podman build"; }
timing[build_s]=$((SECONDS - start))
size_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "built in ${timing[build_s]} s; image size $((size_bytes / 1000000)) MB"
podman run --rm --entrypoint python "$IMAGE" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is not None)' \
    || fail "torch is in the serving image"
podman run --rm --entrypoint sh "$IMAGE" -c '! command -v gcc && ! command -v cmake' >/dev/null \
    || fail "a build toolchain is in the serving image"

wait_ready() {  # url, seconds, [json field that must be "ok"]
    local url=$1 limit=$2 field=${3:-} deadline=$((SECONDS + $2)) body
    while [ $SECONDS -lt $deadline ]; do
        if body=$(curl -fsS -m 5 "$url" 2>/dev/null); then
            if [ -z "$field" ] || printf '%s' "$body" | "$PYTHON" -c "import json,sys; sys.exit(json.load(sys.stdin).get('$field') != 'ok')"; then
                printf '%s' "$body"
                return 0
            fi
        fi
        sleep 1
    done
    return 1
}

# --- 4. the image alone -----------------------------------------------------------------------
say "running citewise serve in the image (SQLite in a volume)"
start=$SECONDS
podman run -d --name "$PROJECT-single" -p "127.0.0.1:$API_PORT:8000" -v "$PROJECT-single-data:/var/lib/citewise" \
    "$IMAGE" serve --host 0.0.0.0 --port 8000 >/dev/null
ready=$(wait_ready "http://127.0.0.1:$API_PORT/readyz" 300) || { podman logs "$PROJECT-single" | tail -30; fail "/readyz of the single container"; }
timing[single_ready_s]=$((SECONDS - start))
say "/readyz 200 after ${timing[single_ready_s]} s: $ready"
podman rm -f "$PROJECT-single" >/dev/null

# --- 5. the compose stack ---------------------------------------------------------------------
# podman 4.3 cannot map the default port range onto one container port, and skips
# `condition: service_healthy`; the API and the worker wait for the database and Redis themselves.
export CITEWISE_API_PORTS=$STACK_API_PORT CITEWISE_UI_PORT=$UI_PORT POSTGRES_PASSWORD=image-test
say "starting the compose stack (postgres, redis, api, worker, ui)"
start=$SECONDS
"${COMPOSE[@]}" up -d >"$WORK/compose.log" 2>&1 || { tail -30 "$WORK/compose.log"; fail "compose up"; }
api="http://127.0.0.1:$STACK_API_PORT"
ready=$(wait_ready "$api/readyz" 300 task_queue) \
    || { "${COMPOSE[@]}" logs api 2>&1 | tail -30; fail "/readyz of the stack"; }
timing[stack_ready_s]=$((SECONDS - start))
say "stack ready after ${timing[stack_ready_s]} s: $ready"
"${COMPOSE[@]}" logs api worker 2>&1 | grep -E "waiting for|answers$" | sed 's/^/    /' || true
wait_ready "http://127.0.0.1:$UI_PORT/_stcore/health" 120 >/dev/null || fail "the web UI does not answer"
say "the web UI answers on port $UI_PORT"

cat >"$WORK/lighthouse.md" <<'DOC'
# Lighthouse keeping at Skerry Point

The Skerry Point lighthouse lamp is cleaned every 19 days by the harbour crew.
Its fog signal sounds twice every 30 seconds when visibility drops below one nautical mile.
DOC
start=$SECONDS
job=$(curl -fsS -F "files=@$WORK/lighthouse.md" -F collection=smoke "$api/v1/documents" \
    | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["job_id"])') || fail "upload"
status=""
for _ in $(seq 1 300); do
    status=$(curl -fsS "$api/v1/jobs/$job" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    case $status in completed|failed|cancelled|interrupted) break ;; esac
    sleep 1
done
[ "$status" = completed ] || fail "ingest job $job ended $status"
"${COMPOSE[@]}" logs worker 2>&1 | grep -q "ingest-$job" || fail "the worker's log does not show job $job"
timing[ingest_s]=$((SECONDS - start))
say "job $job completed by the worker in ${timing[ingest_s]} s"

start=$SECONDS
answer=$(curl -fsS -m 180 -H 'Content-Type: application/json' \
    -d '{"question": "How often is the Skerry Point lamp cleaned?", "collections": ["smoke"]}' "$api/v1/ask")
timing[ask_s]=$((SECONDS - start))
printf '%s' "$answer" | "$PYTHON" -c '
import json, sys
answer = json.load(sys.stdin)
print("    answer:", answer["answer"])
for citation in answer["citations"]:
    number, source, quote = citation["number"], citation["source_uri"], citation["quote"][:100]
    print(f"    [{number}] {source}: {quote!r}")
cited = [c for c in answer["citations"] if c["source_uri"].endswith("lighthouse.md")]
sys.exit(0 if cited and not answer["abstained"] and "19" in answer["answer"] else "the answer does not cite the document")
' || fail "the answer"

record=()
for key in "${!timing[@]}"; do record+=("$key=${timing[$key]}"); done
"$PYTHON" scripts/image/record.py "$IMAGE" "$size_bytes" "${record[@]}"
say "image-test passed"
