"""The JSON shapes of answers and search hits, shared by ``citewise ask --json`` and the REST API."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from app.answering import Answer
from retriever.types import SearchHit


def hit_dict(hit: SearchHit, *, with_text: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rank": hit.rank,
        "score": round(float(hit.score), 6),
        "document_id": hit.document_id,
        "chunk_id": hit.chunk_id,
        "collection": hit.collection,
        "source_uri": hit.source_uri,
        "title": hit.title,
        "page": hit.page,
        "heading": " › ".join(hit.heading_path),
        "char_start": hit.char_start,
        "char_end": hit.char_end,
    }
    if with_text:
        out["text"] = hit.text
    return out


def answer_dict(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "standalone_question": answer.standalone_question,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
        "decline_probability": None
        if answer.decline_logprob is None
        else round(math.exp(answer.decline_logprob), 4),
        "citations": [asdict(citation) for citation in answer.citations],
        "unsupported_sentences": [s.text for s in answer.sentences if not s.supported],
        "sources": [hit_dict(hit) for hit in answer.sources],
        "dropped_passages": answer.dropped_passages,
        "flagged_instructions": [asdict(flagged) for flagged in answer.flagged_instructions],
        "timings": {name: round(value, 4) for name, value in answer.timings.items()},
        "finish_reason": answer.finish_reason,
        "usage": {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        },
    }
