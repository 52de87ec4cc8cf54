"""The ingest pipeline: discover → read → parse → chunk → embed → store.

Documents are embedded in batches that span files (small files would waste the embedder on tiny
batches) and written one batch per transaction. A failure in one file is recorded and the rest go
on; an interrupt leaves every written batch complete and the index saved, so the next run skips
what is done and picks up the rest.

Memory is bounded by design, not by the size of the biggest file times a large factor: the chunker
counts tokens a window at a time, a prepared document keeps its text once (chunks are spans of
it), texts are built for the embedder one batch at a time and vectors land in one compact array,
rows are written in bulk, and files are parsed ahead only within a byte budget. What stays per
document is its text, a few hundred bytes per chunk and its vectors (4 bytes per dimension).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy import select

from ingest.chunking import Chunker
from ingest.discovery import SourceFile, discover, under_roots
from ingest.jobs import FileError, JobRecorder, JobTally
from ingest.prepare import FileOutcome, Skipped, Unchanged, chunk_hashes, prepare_file
from retriever.db.models import Document, JobStatus
from retriever.document_writer import canonical_hashes
from retriever.interrupts import StopRequest
from retriever.knowledge_base import KnowledgeBase
from retriever.types import PreparedDocument, embedding_text


class IngestProgress(Protocol):
    def start(self, total_files: int) -> None: ...
    def file_done(self, source: SourceFile, outcome: str, chunks: int) -> None: ...
    def embedded(self, chunks: int) -> None: ...


class Preparer(Protocol):
    """Parses, chunks and (optionally) embeds files somewhere else, such as on a Ray cluster; the
    pipeline still decides what is new and writes everything itself."""

    def outcomes(
        self,
        sources: list[SourceFile],
        known_hashes: dict[str, str],
        collection_id: int,
        *,
        max_file_bytes: int,
        force: bool,
    ) -> Generator[tuple[SourceFile, FileOutcome], None, None]: ...  # closed when the pipeline stops early


class _NoProgress:
    def start(self, total_files: int) -> None: ...
    def file_done(self, source: SourceFile, outcome: str, chunks: int) -> None: ...
    def embedded(self, chunks: int) -> None: ...


@dataclass(frozen=True, slots=True)
class IngestOptions:
    collection: str = "default"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    sync: bool = False
    max_file_bytes: int = 50 * 1024 * 1024
    batch_chunks: int = 256  # chunks embedded per call and written per transaction
    save_every_seconds: float = 60.0
    skip_dirs: tuple[Path, ...] = ()  # never walked (the data dir)
    force: bool = False  # re-parse and re-chunk unchanged files too (after changing chunk settings)
    parse_ahead: int = 4  # files parsed in advance by the worker thread
    parse_ahead_bytes: int = 32 * 1024 * 1024  # ... while the files in hand total at most this
    follow_outside_links: bool = False  # take files whose links lead out of the roots being ingested


@dataclass(slots=True)
class IngestReport:
    job_id: int
    status: JobStatus
    counts: dict[str, int]
    errors: list[FileError]
    seconds: float
    embed_seconds: float
    model_load_seconds: float = 0.0
    chunks_embedded: int = 0

    @property
    def chunks_per_second(self) -> float:
        working = self.seconds - self.model_load_seconds
        return self.chunks_embedded / working if working > 0 else 0.0


@dataclass(slots=True)
class _Pending:
    document: PreparedDocument
    source: SourceFile
    outcome: str  # "added" or "updated"
    to_embed: list[int]  # chunk ordinals that need a vector


class IngestPipeline:
    def __init__(
        self, kb: KnowledgeBase, chunker: Chunker, options: IngestOptions, preparer: Preparer | None = None
    ) -> None:
        self.kb = kb
        self.chunker = chunker
        self.options = options
        self.preparer = preparer  # None: parse here, embed here
        self.tally = JobTally()
        self.embed_seconds = 0.0
        self.model_load_seconds = 0.0
        self._warmed_up = False
        self._pending: list[_Pending] = []
        self._pending_hashes: set[str] = set()  # every chunk hash of the pending documents
        self._last_save = time.monotonic()

    def run(
        self,
        paths: Sequence[Path],
        progress: IngestProgress | None = None,
        *,
        job_id: int | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> IngestReport:
        """Ingest ``paths``; ``job_id`` runs a job queued earlier instead of recording a new one.
        ``cancelled`` is asked between batches; once it says yes the run stops, keeping what it wrote."""
        progress = progress or _NoProgress()
        started = time.perf_counter()
        collection = self.kb.collection(self.options.collection, create=True)
        recorder = JobRecorder(self.kb)
        job_id = recorder.start(collection.id, [str(p) for p in paths], job_id)
        status = JobStatus.FAILED
        try:
            found = discover(
                paths,
                self.options.include,
                self.options.exclude,
                self.options.skip_dirs,
                follow_outside_links=self.options.follow_outside_links,
            )
            sources = found.files
            known = self._known_documents(collection.id)
            progress.start(len(sources))
            self.tally.counts["files_total"] = len(sources) + len(found.skipped)
            for refused in found.skipped:  # links out of the roots count as skipped files
                self.tally.counts["files"] += 1
                self.tally.counts["skipped"] += 1
                self.tally.errors.append(FileError(str(refused.path), refused.reason))
            recorder.update(self.tally)
            with StopRequest(cancelled) as stop:
                self._ingest(sources, collection.id, known, progress, recorder, stop)
            if stop.interrupted:
                raise KeyboardInterrupt
            if stop.cancelled:
                status = JobStatus.CANCELLED
            else:
                if self.options.sync:
                    self._sync(collection.id, paths, {s.uri for s in sources})
                status = JobStatus.COMPLETED
        except KeyboardInterrupt:
            status = JobStatus.INTERRUPTED
            raise
        finally:
            # After an interrupt, skip the keyword-index rebuild: the next save or search does it.
            self.kb.save(sparse=status == JobStatus.COMPLETED)
            recorder.update(self.tally, status)
        return self._report(job_id, status, time.perf_counter() - started)

    def _ingest(
        self,
        sources: list[SourceFile],
        collection_id: int,
        known: dict[str, tuple[int, str]],
        progress: IngestProgress,
        recorder: JobRecorder,
        stop: StopRequest,
    ) -> None:
        """The file loop; on a stop request, batches already written stay, the pending one is dropped."""
        if self.preparer is not None:
            hashes = {uri: content_hash for uri, (_, content_hash) in known.items()}
            outcomes = self.preparer.outcomes(
                sources,
                hashes,
                collection_id,
                max_file_bytes=self.options.max_file_bytes,
                force=self.options.force,
            )
        else:

            def while_parsing() -> None:
                """The next file is not parsed yet: embed what is waiting meanwhile, rather than
                leave the embedder idle behind the parser (a big PDF, a slow page); not a handful
                of chunks, which the embedder runs badly (too few to share between threads)."""
                if self._pending_chunks() >= self.options.batch_chunks // 4 and not stop.requested:
                    self._flush(progress)
                    self._maybe_save()
                    recorder.update(self.tally)

            outcomes = self._local_outcomes(sources, collection_id, known, while_parsing)
        with contextlib.closing(outcomes):
            for source, outcome in outcomes:
                if stop.requested:
                    break
                self._accept(source, outcome, known.get(source.uri), progress)
                del outcome  # a written document must not wait here while the next file is parsed
                if self._pending_chunks() >= self.options.batch_chunks and not stop.requested:
                    self._flush(progress)
                    self._maybe_save()
                    recorder.update(self.tally)
        if stop.requested:
            self._pending, self._pending_hashes = [], set()
        else:
            self._flush(progress)

    def _local_outcomes(
        self,
        sources: list[SourceFile],
        collection_id: int,
        known: dict[str, tuple[int, str]],
        while_parsing: Callable[[], None] = lambda: None,
    ) -> Generator[tuple[SourceFile, FileOutcome], None, None]:
        """Files parsed and chunked in order by a worker thread, a few ahead of the one being used,
        so parsing hides behind the embedder instead of adding to it. Only files that fit the byte
        budget together with the file in hand are parsed ahead: big files are taken one at a time."""

        def prepare(source: SourceFile) -> FileOutcome:
            stored = known.get(source.uri)
            return prepare_file(
                source,
                collection_id=collection_id,
                known_hash=stored[1] if stored else None,
                chunker=self.chunker,
                max_file_bytes=self.options.max_file_bytes,
                force=self.options.force,
            )

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="citewise-parse") as workers:
            ahead: deque[tuple[SourceFile, int, Future[FileOutcome]]] = deque()
            upcoming = deque((source, _size(source)) for source in sources)
            in_hand = 0  # bytes of the file the caller is working on
            try:
                while True:
                    while upcoming and len(ahead) < self.options.parse_ahead:
                        held = in_hand + sum(size for _, size, _ in ahead)
                        if held and held + upcoming[0][1] > self.options.parse_ahead_bytes:
                            break
                        source, size = upcoming.popleft()
                        ahead.append((source, size, workers.submit(prepare, source)))
                    if not ahead:
                        return
                    source, in_hand, future = ahead.popleft()
                    if not future.done():
                        while_parsing()
                    outcome = future.result()
                    del future
                    yield source, outcome
                    del outcome  # let it go before the next file is parsed
                    in_hand = 0
            finally:
                for _, _, future in ahead:
                    future.cancel()

    def _accept(
        self,
        source: SourceFile,
        outcome: FileOutcome,
        stored: tuple[int, str] | None,
        progress: IngestProgress,
    ) -> None:
        self.tally.counts["files"] += 1
        if isinstance(outcome, Unchanged):
            self.tally.counts["unchanged"] += 1
            progress.file_done(source, "unchanged", 0)
        elif isinstance(outcome, Skipped):
            self.tally.counts["skipped"] += 1
            self.tally.errors.append(FileError(source.uri, outcome.reason))
            progress.file_done(source, "skipped", 0)
        else:
            document = outcome.document
            hashes = chunk_hashes(document.chunks)
            needed = self._chunks_needing_vectors(document, hashes, stored[0] if stored else None)
            # A preparer may have embedded every chunk already; duplicates keep no vector.
            wanted = set(needed)
            document.vectors = {i: v for i, v in document.vectors.items() if i in wanted}
            to_embed = [i for i in needed if i not in document.vectors]
            self.tally.counts["chunks_embedded"] += len(document.vectors)
            self._pending.append(_Pending(document, source, "updated" if stored else "added", to_embed))
            self._pending_hashes.update(hashes)

    def _report(self, job_id: int, status: JobStatus, seconds: float) -> IngestReport:
        return IngestReport(
            job_id=job_id,
            status=status,
            counts=dict(self.tally.counts),
            errors=list(self.tally.errors),
            seconds=seconds,
            embed_seconds=self.embed_seconds,
            model_load_seconds=self.model_load_seconds,
            chunks_embedded=self.tally.counts.get("chunks_embedded", 0),
        )

    # -- per file ----------------------------------------------------------------------------------

    def _chunks_needing_vectors(
        self, document: PreparedDocument, hashes: list[str], document_id: int | None
    ) -> list[int]:
        """Exact duplicates of chunks already stored (or earlier in this batch) are not embedded again."""
        with self.kb.session() as session:
            stored = canonical_hashes(session, document.collection_id, hashes, document_id)
        needed: list[int] = []
        seen: set[str] = set()
        for ordinal, content_hash in enumerate(hashes):
            if content_hash in stored or content_hash in self._pending_hashes or content_hash in seen:
                continue
            needed.append(ordinal)
            seen.add(content_hash)
        return needed

    # -- batches -----------------------------------------------------------------------------------

    def _pending_chunks(self) -> int:
        return sum(len(p.to_embed) for p in self._pending)

    def _flush(self, progress: IngestProgress) -> None:
        if not self._pending:
            return
        total = self._pending_chunks()
        if not self._warmed_up:  # loading the model is not embedding work: time it apart
            began = time.perf_counter()
            self.kb.embedder.warm_up()
            self.model_load_seconds = time.perf_counter() - began
            self._warmed_up = True
        # Texts are built one embedder batch at a time (so one very large file still moves the
        # progress bar and never has all its texts in memory); vectors go into one compact array.
        vectors = np.empty((total, self.kb.embedder.dimension), dtype=np.float32)
        row = 0
        for texts in self._text_batches():
            began = time.perf_counter()
            vectors[row : row + len(texts)] = self.kb.embedder.embed_documents(texts)
            self.embed_seconds += time.perf_counter() - began
            row += len(texts)
            progress.embedded(len(texts))
        row = 0
        for pending in self._pending:
            for ordinal in pending.to_embed:
                pending.document.vectors[ordinal] = vectors[row]
                row += 1
        delta = self.kb.write([p.document for p in self._pending])
        self.tally.counts["chunks_embedded"] += total
        self.tally.counts["chunks_added"] += delta.chunks_added
        self.tally.counts["chunks_removed"] += delta.chunks_removed
        for pending in self._pending:
            self.tally.counts[pending.outcome] += 1
            progress.file_done(pending.source, pending.outcome, len(pending.document.chunks))
        self._pending, self._pending_hashes = [], set()

    def _text_batches(self) -> Iterator[list[str]]:
        """What the embedder reads for the pending chunks, ``batch_chunks`` texts at a time."""
        batch: list[str] = []
        for pending in self._pending:
            document = pending.document
            for ordinal in pending.to_embed:
                chunk = document.chunks[ordinal]
                batch.append(
                    embedding_text(
                        document.title, chunk.heading_path, chunk.text, source_uri=document.source_uri
                    )
                )
                if len(batch) >= self.options.batch_chunks:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _maybe_save(self) -> None:
        if time.monotonic() - self._last_save >= self.options.save_every_seconds:
            self.kb.save(sparse=False)  # the keyword index is rebuilt once, at the end
            self._last_save = time.monotonic()

    # -- bookkeeping -------------------------------------------------------------------------------

    def _known_documents(self, collection_id: int) -> dict[str, tuple[int, str]]:
        with self.kb.session() as session:
            rows = session.execute(
                select(Document.source_uri, Document.id, Document.content_hash).where(
                    Document.collection_id == collection_id
                )
            ).all()
        return {uri: (doc_id, content_hash) for uri, doc_id, content_hash in rows}

    def _sync(self, collection_id: int, paths: Sequence[Path], seen: set[str]) -> None:
        roots = [p.expanduser().resolve() for p in paths]
        gone = [
            doc_id
            for uri, (doc_id, _) in self._known_documents(collection_id).items()
            if uri not in seen and under_roots(uri, roots) and not Path(uri).exists()
        ]
        if gone:
            delta = self.kb.delete_documents(gone)
            self.tally.counts["removed"] += len(gone)
            self.tally.counts["chunks_removed"] += delta.chunks_removed


def _size(source: SourceFile) -> int:
    try:
        return source.path.stat().st_size
    except OSError:
        return 0  # reading it will fail and say why
