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

    data_dir: Path = Field(default_factory=default_data_dir, description="Index files, database, caches.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to a SQLite file in the data dir. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    embedder: str = Field(
        default="minilm",
        description="Embedder name from the registry, or module:factory. Left unset, an existing index "
        "keeps the embedder it was built with.",
    )
    chunk_tokens: int = Field(default=200, ge=32, le=2048, description="Token budget of one chunk.")
    chunk_overlap: int = Field(default=30, ge=0, description="Tokens repeated between neighbouring chunks.")
    embed_batch_size: int = Field(default=64, ge=1, le=4096)
    max_file_mb: float = Field(default=50.0, gt=0, description="Larger files are skipped with a reason.")
    default_collection: str = "default"
    search_mode: Literal["dense", "sparse", "hybrid"] = Field(
        default="hybrid", description="The default search mode: dense, sparse (BM25) or hybrid."
    )
    index_refresh_seconds: float = Field(
        default=0.25,
        ge=0.0,
        le=60.0,
        description="How often an API process looks for an index another process saved (0: before "
        "every search).",
    )
    approximate_index_above: int = Field(
        default=50_000,
        ge=0,
        description="Chunks above which search uses an approximate (IVF) index; 0 = never.",
    )
    approximate_min_recall: float = Field(
        default=0.95,
        gt=0.0,
        le=1.0,
        description="Recall@10 an approximate index must reach, else exact search.",
    )
    generator: str = Field(
        default="qwen2.5-0.5b",
        description="Answer model: qwen2.5-0.5b, qwen2.5-1.5b, smollm2-135m, extractive, a .gguf path, "
        "transformers:/checkpoint, or module:factory.",
    )
    answer_tokens: int = Field(default=96, ge=16, le=2048, description="Most tokens an answer may use.")
    answer_k: int = Field(default=3, ge=1, le=50, description="Passages retrieved for an answer.")
    answer_focus_sentences: int = Field(
        default=8,
        ge=0,
        le=200,
        description="Sentences of the retrieved passages the model reads (the most relevant); 0 = all.",
    )
    answer_copy: bool = Field(
        default=False,
        description="Hold each answer to a verbatim span of one passage the model read, cited (llama.cpp).",
    )
    repair_questions: bool = Field(
        default=True,
        description='Apply self-corrections ("X, no wait, Y") before the model reads a question.',
    )
    decline_threshold: float | None = Field(
        default=None,
        le=0.0,
        description="Abstain when the model's log-probability of declining reaches this; "
        "unset = the model's calibrated value.",
    )
    min_retrieval_similarity: float = Field(
        default=0.25, ge=0.0, le=1.0, description="Abstain when no passage is at least this similar."
    )
    search_fusion: Literal["zscore", "rrf"] = Field(
        default="zscore", description="How hybrid mode fuses its rankings: zscore (scores) or rrf (ranks)."
    )
    search_dense_weight: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Dense share of hybrid fusion; BM25 gets the rest.",
    )

    # -- the REST API and the web UI ------------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Address `citewise serve` listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_url: str = Field(default="http://127.0.0.1:8000", description="Where the web UI finds the API.")
    ui_port: int = Field(default=8501, ge=1, le=65535)
    auth_enabled: bool = Field(
        default=False, description="Require an API key (`citewise keys create`) on every /v1 request."
    )
    generation_workers: int = Field(
        default=1, ge=1, le=64, description="Answers generated at once (each holds the model busy)."
    )
    generation_queue: int = Field(
        default=8, ge=0, le=10_000, description="Answers waiting for a worker; beyond it the API says 429."
    )
    search_workers: int = Field(default=4, ge=1, le=256, description="Threads serving searches.")
    request_timeout_s: float = Field(
        default=120.0, gt=0, description="Longest an answer may take before the API gives up."
    )
    api_extra_models: list[str] = Field(
        default_factory=list,
        description="Further generator specs API callers may choose (GGUF paths, transformers:DIR).",
    )
    queue_url: str | None = Field(
        default=None,
        description="Redis URL of the ingest task queue (redis://host:6379/0). Set, uploads and "
        "`citewise ingest --async` queue jobs that `citewise worker` processes run; unset, each API "
        "process runs its uploads itself.",
    )
    queue_name: str = Field(
        default="citewise-ingest", min_length=1, max_length=100, description="The task queue's name in Redis."
    )
    max_upload_files: int = Field(
        default=20, ge=1, le=1000, description="Files per upload request (the form parser allows 1000)."
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
