"""Parsing, chunking and embedding a large corpus on a Ray cluster, with Ray Data.

The expensive part of an ingest is the embedder; it runs here in a pool of Ray actors (each loads
the model once), fed file batches as a stream. Results come back to the machine that runs
``citewise ingest --ray``, which decides what is new and writes rows and vectors itself: one writer,
the same knowledge base, the same guarantees as a local ingest. Every Ray worker must see the files
at the same paths (a shared file system) and have Citewise installed.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.chunking import Chunker
from ingest.discovery import SourceFile
from ingest.prepare import FileOutcome, Prepared, prepare_file
from retriever.types import embedding_text


@dataclass(frozen=True, slots=True)
class RayOptions:
    address: str | None = None  # None: start a Ray instance on this machine
    workers: int = 2  # embedding actors
    cpus_per_worker: float = 1.0
    files_per_batch: int = 8
    embedder: str = "minilm"  # a registry name or module:factory, resolved on each worker
    chunk_tokens: int = 200
    chunk_overlap: int = 30


class RayPreparer:
    """Cheap to construct; connects to (or starts) Ray on first use. ``close()`` stops a Ray
    instance it started itself."""

    def __init__(self, options: RayOptions) -> None:
        self.options = options
        self._started_ray = False

    def outcomes(
        self,
        sources: list[SourceFile],
        known_hashes: dict[str, str],
        collection_id: int,
        *,
        max_file_bytes: int,
        force: bool,
    ) -> Generator[tuple[SourceFile, FileOutcome], None, None]:
        if not sources:
            return
        ray = self._ray()
        items = [
            {
                "path": str(s.path),
                "relative": s.relative,
                "real": str(s.real or ""),
                "known_hash": known_hashes.get(s.uri, ""),
            }
            for s in sources
        ]
        per_batch = self.options.files_per_batch
        dataset = ray.data.from_items(items, override_num_blocks=max(1, -(-len(items) // per_batch)))
        prepared = dataset.map_batches(
            PrepareAndEmbed,
            fn_constructor_kwargs={
                "embedder": self.options.embedder,
                "chunk_tokens": self.options.chunk_tokens,
                "chunk_overlap": self.options.chunk_overlap,
                "collection_id": collection_id,
                "max_file_bytes": max_file_bytes,
                "force": force,
            },
            batch_size=per_batch,
            compute=ray.data.ActorPoolStrategy(size=self.options.workers),
            num_cpus=self.options.cpus_per_worker,
        )
        for row in prepared.iter_rows():
            yield SourceFile(Path(row["path"]), row["relative"]), pickle.loads(row["outcome"])

    def _ray(self) -> Any:
        import ray

        if not ray.is_initialized():
            if self.options.address:
                ray.init(address=self.options.address, logging_level=logging.WARNING, log_to_driver=False)
            else:
                ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
                self._started_ray = True
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the ingest shows its own progress
        context.print_on_execution_start = False
        return ray

    def close(self) -> None:
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False


class PrepareAndEmbed:
    """One Ray actor: loads the embedder once, then parses, chunks and embeds batches of files."""

    def __init__(
        self,
        *,
        embedder: str,
        chunk_tokens: int,
        chunk_overlap: int,
        collection_id: int,
        max_file_bytes: int,
        force: bool,
    ) -> None:
        from retriever.embedders.registry import create_embedder

        self.embedder = create_embedder(embedder)
        self.chunker = Chunker(self.embedder.count_tokens, chunk_tokens, chunk_overlap)
        self.collection_id, self.max_file_bytes, self.force = collection_id, max_file_bytes, force

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        paths, relatives = [str(p) for p in batch["path"]], [str(r) for r in batch["relative"]]
        reals = [Path(str(r)) if str(r) else None for r in batch["real"]]
        outcomes = [
            prepare_file(
                SourceFile(Path(path), relative, real),
                collection_id=self.collection_id,
                known_hash=str(known) or None,
                chunker=self.chunker,
                max_file_bytes=self.max_file_bytes,
                force=self.force,
            )
            for path, relative, real, known in zip(paths, relatives, reals, batch["known_hash"], strict=True)
        ]
        texts, places = [], []
        for n, outcome in enumerate(outcomes):
            if isinstance(outcome, Prepared):
                document = outcome.document
                for chunk in document.chunks:
                    texts.append(
                        embedding_text(
                            document.title, chunk.heading_path, chunk.text, source_uri=document.source_uri
                        )
                    )
                    places.append((n, chunk.ordinal))
        if texts:
            vectors = self.embedder.embed_documents(texts)  # (len(texts), dimension)
            for (n, ordinal), vector in zip(places, vectors, strict=True):
                outcomes[n].document.vectors[ordinal] = vector  # type: ignore[union-attr]
        return {"path": paths, "relative": relatives, "outcome": [pickle.dumps(o) for o in outcomes]}
