"""Training groups for the evidence model, made from a collection's own text, without a model.

Every prose sentence offers a cloze question (``app.training.cloze``): "The web UI listens on port
8501." gives "What does the web UI listen on?"-style questions whose answer is the sentence. Its
negatives are the other sentences of the same chunk (the choice focus really faces) and sentences
of the chunks a search for the question finds (hard negatives: same topic, wrong sentence); a
negative that contains the answer is dropped, so no group rewards the wrong sentence. Headings
give a second, topical kind: a section's heading as the question, its first sentence as the
positive. Evaluation questions are never read here.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.answer_scores import normalize
from app.training.cloze import cloze_candidates, sentences
from generator.sentences import sentence_spans
from retriever import catalog
from retriever.knowledge_base import KnowledgeBase
from retriever.search import search

if TYPE_CHECKING:
    import numpy as np

    from generator.evidence import EvidencePair

MIN_NEGATIVE_WORDS = 2
MAX_QUESTION_WORDS = 14  # a longer cloze question keeps its last words (the clause around "what")
MAX_NEGATIVES = 16
SEARCH_BATCH = 64


@dataclass(frozen=True)
class ChunkText:
    chunk_id: int
    document_id: int
    heading: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class EvidenceExample:
    question: str
    positive: str
    negatives: tuple[str, ...]
    answer: str  # the cloze answer, or the heading for a heading example
    kind: str  # "cloze" or "heading"
    chunk_id: int  # where the positive comes from

    def pair(self) -> EvidencePair:
        from generator.evidence import EvidencePair

        return EvidencePair(self.question, self.positive, self.negatives)


@dataclass
class EvidenceData:
    examples: list[EvidenceExample] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


def collection_chunks(kb: KnowledgeBase, collection: str) -> list[ChunkText]:
    """Every distinct chunk text of a collection, in document order."""
    seen: set[str] = set()
    chunks = []
    for stored in catalog.stored_chunks(kb, (collection,)):
        if stored.text.strip() and stored.text not in seen:
            seen.add(stored.text)
            chunks.append(ChunkText(stored.id, stored.document_id, stored.heading_path, stored.text))
    return chunks


def units(text: str) -> list[str]:
    """The sentence units the evidence model ranks at answer time, whitespace-normalised."""
    found = [" ".join(text[a:b].split()) for a, b in sentence_spans(text)]
    return [unit for unit in found if len(unit.split()) >= MIN_NEGATIVE_WORDS]


def evidence_examples(
    kb: KnowledgeBase,
    collection: str,
    *,
    limit: int = 5000,
    near: int = 3,
    headings: bool = True,
    seed: int = 0,
) -> EvidenceData:
    """Up to ``limit`` groups (cloze first, then headings), shuffled; ``near``: how many other
    chunks a search contributes hard negatives from (0: none, no search)."""
    rng = random.Random(seed)
    chunks = collection_chunks(kb, collection)
    data = EvidenceData()
    cloze = list(_cloze(chunks, rng, data.counts))
    rng.shuffle(cloze)
    cloze = cloze[:limit]
    if near > 0:
        cloze = _with_search_negatives(kb, collection, cloze, near, chunks)
    found = cloze + (list(_headings(chunks, rng, data.counts)) if headings else [])
    kept = [example for example in found if example.negatives]
    data.counts["without negatives"] += len(found) - len(kept)
    rng.shuffle(kept)
    data.examples = kept[:limit]
    data.counts["examples"] = len(data.examples)
    return data


def _cloze(
    chunks: Sequence[ChunkText], rng: random.Random, counts: Counter[str]
) -> Iterator[EvidenceExample]:
    for chunk in chunks:
        own = units(chunk.text)
        for sentence in sentences(chunk.text):
            offered = cloze_candidates(sentence, rng)
            if not offered:
                counts["sentence without a cloze question"] += 1
                continue
            question, answer = rng.choice(offered)
            words = question.split()
            if (
                len(words) > MAX_QUESTION_WORDS
            ):  # a whole sentence as the question: lexical overlap alone solves it
                question = " ".join(words[-MAX_QUESTION_WORDS:])
                counts["long cloze question cut"] += 1
            negatives = _clean(own, sentence, answer)
            counts["cloze"] += 1
            yield EvidenceExample(question, sentence, tuple(negatives), answer, "cloze", chunk.chunk_id)


def _with_search_negatives(
    kb: KnowledgeBase,
    collection: str,
    examples: list[EvidenceExample],
    near: int,
    chunks: Sequence[ChunkText],
) -> list[EvidenceExample]:
    """Each example with sentences of the chunks its question retrieves added as negatives."""
    text_of = {chunk.chunk_id: chunk.text for chunk in chunks}
    out = []
    for start in range(0, len(examples), SEARCH_BATCH):
        batch = examples[start : start + SEARCH_BATCH]
        vectors = _query_vectors(kb, [example.question for example in batch])
        for example, vector in zip(batch, vectors, strict=True):
            hits = search(kb, example.question, k=near + 1, collections=[collection], query_vector=vector)
            others = [
                unit
                for hit in hits
                if hit.chunk_id != example.chunk_id
                and text_of.get(hit.chunk_id, hit.text) != text_of.get(example.chunk_id)
                for unit in units(hit.text)
            ]
            extra = [
                unit
                for unit in _clean(others, example.positive, example.answer)
                if unit not in example.negatives
            ]
            negatives = (*example.negatives, *extra)[:MAX_NEGATIVES]
            out.append(
                EvidenceExample(
                    example.question,
                    example.positive,
                    negatives,
                    example.answer,
                    example.kind,
                    example.chunk_id,
                )
            )
    return out


def _query_vectors(kb: KnowledgeBase, questions: list[str]) -> list[np.ndarray]:
    """Batched when the embedder can (a user's own embedder may lack the batched call)."""
    embedder = kb.embedder
    if hasattr(embedder, "embed_queries"):
        return list(embedder.embed_queries(questions))
    return [embedder.embed_query(question) for question in questions]


def _headings(
    chunks: Sequence[ChunkText], rng: random.Random, counts: Counter[str]
) -> Iterator[EvidenceExample]:
    """A section's heading path asks for its first prose sentence; sentences of other sections
    (of the same document first, then of any) are the negatives."""
    first: dict[tuple[int, tuple[str, ...]], tuple[int, str]] = {}
    everywhere: list[tuple[int, tuple[str, ...], str]] = []
    for chunk in chunks:
        prose = sentences(chunk.text)
        key = (chunk.document_id, chunk.heading)
        if chunk.heading and prose and key not in first:
            first[key] = (chunk.chunk_id, prose[0])
        everywhere.extend((chunk.document_id, chunk.heading, s) for s in prose)
    for (document_id, heading), (chunk_id, positive) in first.items():
        title = " ".join(" ".join(heading).split())
        if len(title.split()) < 2:
            counts["heading too short"] += 1
            continue
        near = [s for d, h, s in everywhere if d == document_id and h != heading]
        far = [s for d, h, s in everywhere if d != document_id]
        picked = rng.sample(near, min(MAX_NEGATIVES, len(near)))
        picked += rng.sample(far, min(MAX_NEGATIVES - len(picked), len(far)))
        counts["heading"] += 1
        yield EvidenceExample(
            title, positive, tuple(_clean(picked, positive, "")), title, "heading", chunk_id
        )


def _clean(candidates: Sequence[str], positive: str, answer: str) -> list[str]:
    """Candidates that are neither the positive (or inside it, or holding it) nor hold the answer."""
    plain = " ".join(positive.split())
    said = f" {normalize(answer)} " if normalize(answer) else None
    kept: list[str] = []
    for unit in candidates:
        if unit in plain or plain in unit or unit in kept:
            continue
        if said is not None and said in f" {normalize(unit)} ":
            continue
        kept.append(unit)
    return kept
