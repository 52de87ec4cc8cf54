"""The one settings object: environment variables prefixed ``CITEWISE_`` and an optional ``.env``."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """XDG data dir, so the index and database survive reinstalls of the code."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "citewise"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITEWISE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description=(
            "Folder for the SQLite database, the vector index and the joined answer model files. `~` is "
            "expanded and the path is made absolute."
        ),
        json_schema_extra={"doc_default": "`$XDG_DATA_HOME/citewise`, else `~/.local/share/citewise`"},
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Folder the packaged answer models are joined into and verified, once. A container "
        "image sets it to a folder of its own, so the model is not stored in the data volume.",
        json_schema_extra={"doc_default": "unset, which means `<data dir>/models`"},
    )
    database_url: str | None = Field(
        default=None,
        description="Database that holds collections, documents, chunks and ingest jobs.",
        json_schema_extra={
            "doc_type": "SQLAlchemy URL",
            "doc_default": "unset, which means `sqlite:///<data dir>/citewise.db`",
        },
    )
    embedder: str = Field(
        default="minilm",
        description=(
            "Embedding model: `minilm` (ONNX Runtime), `minilm-int8` (ONNX Runtime, int8: faster, other "
            "vectors), `minilm-torch`, or `package.module:factory`. Left unset, an existing index keeps "
            "the embedder it was built with."
        ),
    )
    chunk_tokens: int = Field(
        default=200,
        ge=32,
        le=2048,
        description="Maximum tokens in one chunk, counted with the embedder's tokenizer.",
    )
    chunk_overlap: int = Field(
        default=30,
        ge=0,
        description=(
            "Tokens of trailing sentences repeated at the start of the next chunk when a chunk boundary "
            "falls inside a paragraph. Must be smaller than `CITEWISE_CHUNK_TOKENS`."
        ),
    )
    embed_batch_size: int = Field(
        default=64,
        ge=1,
        le=4096,
        description=(
            "Texts per call to the model. Ingest also writes to the database in batches of `max(4 × this,"
            " 64)` chunks (256 by default)."
        ),
    )
    max_file_mb: float = Field(
        default=50.0,
        gt=0,
        description=(
            "Files larger than this are skipped with a reason, before they are read. The REST API refuses"
            " uploaded files larger than this."
        ),
    )
    default_collection: str = Field(
        default="default",
        description=(
            "Collection used by `citewise ingest` when `--collection` is not given, and by uploads to the"
            " REST API (`POST /v1/documents`) that have no `collection` field."
        ),
    )
    search_mode: Literal["dense", "sparse", "hybrid"] = Field(
        default="hybrid",
        description=(
            "Mode `citewise search` uses when `--mode` is not given: `dense` (embedding model), `sparse` "
            "(BM25 keywords) or `hybrid` (both, fused)."
        ),
    )
    search_fusion: Literal["zscore", "rrf"] = Field(
        default="zscore",
        description=(
            "How `hybrid` mode fuses the dense and BM25 rankings when `--fusion` is not given: "
            "standardised scores (`zscore`) or reciprocal ranks (`rrf`)."
        ),
    )
    search_dense_weight: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description=(
            "Share of the dense ranking in `hybrid` mode when `--dense-weight` is not given. BM25 gets "
            "the rest."
        ),
    )
    index_refresh_seconds: float = Field(
        default=0.25,
        ge=0.0,
        le=60.0,
        description=(
            "How often an API process looks for an index another process (an ingest, a worker) saved; "
            "`0`: before every search. Keyword search always reads the database as it is."
        ),
    )
    approximate_index_above: int = Field(
        default=50_000,
        ge=0,
        description=(
            "Number of vectors from which the vector index may become approximate (IVF). `0` means always"
            " exact."
        ),
    )
    approximate_min_recall: float = Field(
        default=0.95,
        gt=0.0,
        le=1.0,
        description=(
            "Recall@10 against exact search that an approximate index must reach, or exact search is kept."
        ),
    )
    generator: str = Field(
        default="qwen2.5-0.5b",
        description=(
            "Answer model for `citewise ask` and `citewise chat` when `--model` is not given, and for "
            "REST API requests that name no model: `qwen2.5-0.5b`, `qwen2.5-1.5b`, `smollm2-135m`, "
            "`extractive`, a `.gguf` path, `transformers:/path/to/checkpoint`, or "
            "`package.module:factory` (see [choosing the answer model](#choosing-the-answer-model))."
        ),
    )
    answer_tokens: int = Field(
        default=96,
        ge=16,
        le=2048,
        description=(
            "Most tokens an answer may have. This many tokens of the model's context window are kept free"
            " for the answer."
        ),
    )
    answer_k: int = Field(
        default=3, ge=1, le=50, description="Passages retrieved for an answer when `-k` is not given."
    )
    answer_focus_sentences: int = Field(
        default=8,
        ge=0,
        le=200,
        description=(
            "Sentences of the retrieved passages that the model reads: those most relevant to the "
            "question. `0` means whole passages."
        ),
    )
    answer_copy: bool = Field(
        default=False,
        description=(
            "Hold each answer to a word-for-word span of one passage the model read, and let Citewise "
            "write its citation (llama.cpp models only). Measured on the guide's dev split it made "
            "answers worse, so it is off; see [how answers are "
            "made](architecture.md#answering-a-question)."
        ),
    )
    repair_questions: bool = Field(
        default=True,
        description=(
            'Apply self-corrections in a question ("the prime minister no wait President") before the '
            "model reads it. Retrieval always searches the question as typed."
        ),
    )
    decline_threshold: float | None = Field(
        default=None,
        le=0.0,
        description=(
            'Natural-log probability of the reply "The documents do not say" at or above which Citewise '
            "abstains without generating. Used only with backends that can score a reply (llama.cpp and "
            "transformers)."
        ),
        json_schema_extra={
            "doc_default": "unset, which means no decline check "
            "(no built-in model has a threshold of its own)"
        },
    )
    min_retrieval_similarity: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description=(
            "Citewise abstains without running the model when no passage among the first three retrieved "
            "has at least this cosine similarity to the question."
        ),
    )

    # -- the REST API and the web UI ------------------------------------------------------------------
    api_host: str = Field(
        default="127.0.0.1",
        description=(
            "Address `citewise serve` listens on when `--host` is not given. The default accepts "
            "connections from this machine only."
        ),
    )
    api_port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        description=(
            "Port `citewise serve` listens on when `--port` is not given. `make run` starts the API on it."
        ),
    )
    api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where the web UI finds the REST API, when `citewise ui --api-url` is not given.",
        json_schema_extra={"doc_type": "URL"},
    )
    ui_port: int = Field(
        default=8501,
        ge=1,
        le=65535,
        description=(
            "Port `citewise ui` listens on when `--port` is not given. `make run` starts the UI on it."
        ),
    )
    auth_enabled: bool = Field(
        default=False,
        description="Require an API key (`citewise keys create`) on every `/v1` request of the REST API.",
    )
    generation_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Answers the REST API generates at the same time, per server process.",
    )
    generation_queue: int = Field(
        default=8,
        ge=0,
        le=10_000,
        description=(
            "Answers that may wait for a generation worker, per server process. Beyond that, the API "
            "answers 429."
        ),
    )
    search_workers: int = Field(
        default=4,
        ge=1,
        le=256,
        description=(
            "Threads that run the REST API's searches, per server process. 16 searches per thread may "
            "wait; beyond that, 429."
        ),
    )
    request_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description=(
            "Seconds an answer (or a document or collection deletion) through the REST API may take "
            "before the API answers 504."
        ),
    )
    api_extra_models: list[str] = Field(
        default_factory=list,
        description=(
            "Further answer models that REST API callers may choose, such as `.gguf` paths or "
            '`transformers:` directories, for example `["/srv/models/my-model.gguf"]`.'
        ),
    )
    startup_wait_s: float = Field(
        default=120.0,
        ge=0.0,
        le=3600.0,
        description="Seconds `citewise serve` and `citewise worker` wait at start for the database "
        "and the task queue to answer, so a container stack may start them in any order (0: fail at "
        "once).",
    )
    max_upload_files: int = Field(
        default=20,
        ge=1,
        le=1000,
        description=(
            "Most files in one upload to the REST API. 1000 is the most the form parser accepts in one "
            "request."
        ),
    )
    queue_url: str | None = Field(
        default=None,
        description=(
            "The ingest task queue of a [team server](deployment.md#team-server-docker-compose). Set, "
            "uploads and `citewise ingest --async` queue jobs that `citewise worker` processes run; "
            "unset, each API process runs its own uploads."
        ),
        json_schema_extra={"doc_type": "Redis URL, e.g. `redis://127.0.0.1:6379/0`"},
    )
    queue_name: str = Field(
        default="citewise-ingest",
        min_length=1,
        max_length=100,
        description="The queue's name in Redis (several deployments can share one Redis).",
    )

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _overlap_below_budget(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("chunk_overlap must be smaller than chunk_tokens")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'citewise.db'}"

    @property
    def resolved_model_cache_dir(self) -> Path:
        return (self.model_cache_dir or self.data_dir / "models").expanduser().resolve()

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def redact_url(url: str) -> str:
    """A database or queue URL fit to print: the password replaced by ***."""
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1))
    return urlunsplit(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
