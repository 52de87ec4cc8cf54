"""Request and response bodies of the REST API (they are its OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["dense", "sparse", "hybrid"]
CollectionName = Field(min_length=1, max_length=200, pattern=r"^[\w][\w .@+-]*$")
MetadataValue = str | float | bool | Annotated[int, Field(ge=-(2**62), le=2**62)]
# Database ids are 64-bit at most (SQLite INTEGER): anything larger names nothing.
Id = Annotated[int, Field(ge=1, le=2**62)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchFilterBody(Strict):
    document_ids: list[Id] = Field(default_factory=list, max_length=1000)
    source_prefix: str | None = Field(default=None, max_length=2048)
    metadata: dict[str, MetadataValue] = Field(default_factory=dict, max_length=50)


class SearchBody(Strict):
    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=5, ge=1, le=100)
    mode: Mode | None = None
    collections: list[str] = Field(default_factory=list, max_length=50)
    filters: SearchFilterBody = Field(default_factory=SearchFilterBody)


class Place(BaseModel):
    """Where a passage or a supporting span is: its document, chunk and character offsets."""

    document_id: int
    chunk_id: int
    source_uri: str
    title: str
    page: int | None
    heading: str
    char_start: int
    char_end: int


class Hit(Place):
    rank: int
    score: float
    collection: str
    text: str


class SearchResult(BaseModel):
    query: str
    mode: Mode
    hits: list[Hit]
    took_ms: float


class ChatTurn(Strict):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskBody(Strict):
    question: str = Field(min_length=1, max_length=4000)
    collections: list[str] = Field(default_factory=list, max_length=50)
    k: int | None = Field(default=None, ge=1, le=50)
    mode: Mode | None = None
    model: str | None = Field(default=None, max_length=1000)
    history: list[ChatTurn] = Field(default_factory=list, max_length=100)
    stream: bool = False


class CitationOut(Place):
    number: int
    quote: str
    supported: bool
    inferred: bool


class FlaggedInstructionOut(BaseModel):
    """Retrieved text kept from the model because it reads as an instruction to it."""

    chunk_id: int
    reason: str
    text: str


class UsageOut(BaseModel):
    """Tokens the answer model read and wrote for this answer, by its own tokenizer (0 when it was
    not asked, as when retrieval was too weak to ask it)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AnswerOut(BaseModel):
    """The same object ``citewise ask --json`` prints."""

    question: str
    standalone_question: str
    answer: str
    abstained: bool
    abstain_reason: str | None
    decline_probability: float | None
    citations: list[CitationOut]
    unsupported_sentences: list[str]
    sources: list[Hit]
    dropped_passages: list[int]
    flagged_instructions: list[FlaggedInstructionOut] = Field(default_factory=list)
    timings: dict[str, float]
    finish_reason: Literal["stop", "length"] = "stop"
    usage: UsageOut


class ChunkOut(BaseModel):
    id: int
    ordinal: int
    text: str
    page: int | None
    heading: str
    char_start: int
    char_end: int
    token_count: int
    duplicate_of: int | None


class DocumentOut(BaseModel):
    id: int
    collection: str
    source_uri: str
    title: str
    mime_type: str
    size_bytes: int
    status: str
    version: int
    chunks: int
    created_at: datetime
    updated_at: datetime


class DocumentDetail(DocumentOut):
    chunk_list: list[ChunkOut]


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    total: int
    offset: int
    limit: int


class Rejected(BaseModel):
    name: str
    reason: str


class UploadAccepted(BaseModel):
    job_id: int | None
    collection: str
    files: list[str]
    rejected: list[Rejected]


class JobOut(BaseModel):
    id: int
    status: str
    collection: str | None
    files_total: int | None
    files_done: int
    counts: dict[str, Any]
    errors: list[dict[str, Any]]
    started_at: datetime
    finished_at: datetime | None


class CollectionBody(Strict):
    name: str = CollectionName
    description: str = Field(default="", max_length=2000)


class CollectionOut(BaseModel):
    name: str
    description: str
    documents: int
    chunks: int


class Deleted(BaseModel):
    deleted: str
    documents: int
    chunks_removed: int
