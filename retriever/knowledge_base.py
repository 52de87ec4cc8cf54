"""The knowledge base: one database plus one vector index kept in agreement.

Cheap to construct; ``open`` migrates the schema, loads the index and checks it against the
database. A writer holds the index directory's lock for its lifetime; readers never repair while a
writer is active, they serve the last saved index and drop hits whose chunks are gone.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from retriever import consistency
from retriever.consistency import ConsistencyReport, Progress
from retriever.db.engine import make_engine, make_session_factory, migrate
from retriever.db.models import Chunk, Collection, Document, KbState
from retriever.document_writer import IndexDelta, bump_generation, delete_document, write_document
from retriever.embedders.base import Embedder
from retriever.index.factory import IndexDecision, IndexPolicy, choose_index
from retriever.index.persistence import IndexCorruptError, IndexLockedError, IndexManifest, IndexStore
from retriever.index.sparse_index import SparseIndex, SparseStore
from retriever.index.vector_index import VectorIndex
from retriever.interrupts import deferred_interrupts
from retriever.types import PreparedDocument

_ADD_WINDOW = 4096  # vectors copied into the index per call


class IndexMismatchError(RuntimeError):
    """The saved index was built by another embedder; its vectors are meaningless to this one."""


class CollectionNotFoundError(LookupError):
    pass


class ReadOnlyError(RuntimeError):
    """Changing the knowledge base needs the writer lock: open it with ``writable=True``."""


class KnowledgeBase:
    def __init__(
        self,
        database_url: str,
        index_dir: Path,
        embedder: Embedder,
        index_policy: IndexPolicy | None = None,
    ) -> None:
        self.database_url = database_url
        self.embedder = embedder
        self.index_policy = index_policy or IndexPolicy()
        self.index_decision: IndexDecision | None = None  # the factory's last choice, with its reason
        self.store = IndexStore(index_dir)
        self.sparse_store = SparseStore(index_dir)
        self._sparse: SparseIndex | None = None
        self._sparse_generation: int | None = None
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._index: VectorIndex | None = None
        self._manifest: IndexManifest | None = None
        self._database_uid = ""
        self._generation = 0  # the database generation the in-memory index reflects
        self._dirty = False
        self._lock_context: contextlib.AbstractContextManager[None] | None = None
        self.load_problem: str | None = None  # why the saved index could not be used, if it could not

    # -- lifecycle ---------------------------------------------------------------------------------

    def open(
        self, *, writable: bool = False, rebuild: bool = False, repair_progress: Progress | None = None
    ) -> ConsistencyReport:
        """Open the database and index; repair the index if it disagrees and nobody else is writing.

        ``rebuild`` ignores the saved index and embeds every chunk again (after changing embedders);
        the old index stays in place until the new one is saved.
        """
        self._engine = make_engine(self.database_url)
        migrate(self._engine)
        self._sessions = make_session_factory(self._engine)
        self._database_uid, db_generation = self._ensure_state()
        holds_lock = self._acquire_lock(required=writable or rebuild)
        try:
            report = self._load_and_check(db_generation, holds_lock, writable, rebuild, repair_progress)
        except BaseException:
            self._release_lock()
            raise
        if holds_lock and not writable:
            self._release_lock()
        return report

    def _load_and_check(
        self,
        db_generation: int,
        holds_lock: bool,
        writable: bool,
        rebuild: bool,
        repair_progress: Progress | None,
    ) -> ConsistencyReport:
        if rebuild:
            self._index, self._manifest = VectorIndex(self.embedder.dimension), None
            self.index_decision = None
        else:
            self._load_index(mmap=not writable)
        report = self._quick_check(db_generation)
        if report is None:
            report = consistency.check(self.sessions, self.index)
            if not report.consistent and holds_lock:
                if self._manifest is not None and not writable:
                    self._load_index(mmap=False)  # a mapped index is read-only: repair a private copy
                report = consistency.repair(self.sessions, self.index, self.embedder, report, repair_progress)
                self._dirty = True
        self._generation = db_generation
        if holds_lock and (self._dirty or report.full_check):
            self.save()
        return report

    def refresh(self) -> bool:
        """A reader picks up the index a writer saved since it loaded its own; True if it changed.

        Cheap enough to call before every search (one small file read). Until the writer saves,
        the reader keeps serving the old index; hits on chunks deleted meanwhile are dropped at
        load time, so a deleted passage is never served.
        """
        if self._lock_context is not None or self._engine is None:
            return False  # a writer's own index is always current
        try:
            manifest = self.store.read_manifest()
        except IndexCorruptError:
            return False  # half-visible save: keep serving what we have
        current = self._manifest
        if manifest is None or (
            current is not None
            and (manifest.database_uid, manifest.generation, manifest.index_file, manifest.saved_at)
            == (current.database_uid, current.generation, current.index_file, current.saved_at)
        ):
            return False
        try:
            self._check_embedder(manifest)
            index = self.store.load(manifest, mmap=True)
        except (IndexCorruptError, IndexMismatchError):
            return False
        self._index, self._manifest = index, manifest
        self.index_decision = IndexDecision.from_manifest(manifest.index_kind, manifest.index_params)
        self._generation = manifest.generation
        return True

    @property
    def generation(self) -> int:
        """The database generation the loaded index reflects."""
        return self._generation

    @property
    def writable(self) -> bool:
        return self._lock_context is not None

    def close(self) -> None:
        if self._lock_context is not None and self._dirty:
            self.save()
        self._release_lock()
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            raise RuntimeError("KnowledgeBase.open() has not been called")
        return self._sessions

    @property
    def index(self) -> VectorIndex:
        if self._index is None:
            raise RuntimeError("KnowledgeBase.open() has not been called")
        return self._index

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    # -- collections -------------------------------------------------------------------------------

    def collection(self, name: str, *, create: bool = False) -> Collection:
        with self.sessions.begin() as session:
            found = session.execute(select(Collection).where(Collection.name == name)).scalar_one_or_none()
            if found is None:
                if not create:
                    raise CollectionNotFoundError(f"no collection named {name!r}")
                found = Collection(name=name)
                session.add(found)
                session.flush()
            return found

    def delete_collection(self, name: str) -> int:
        self._require_writable()
        with deferred_interrupts():  # the commit and the index update happen together
            with self.sessions.begin() as session:
                collection = session.execute(
                    select(Collection).where(Collection.name == name)
                ).scalar_one_or_none()
                if collection is None:
                    raise CollectionNotFoundError(f"no collection named {name!r}")
                chunk_ids = set(
                    session.execute(select(Chunk.id).where(Chunk.collection_id == collection.id)).scalars()
                )
                documents = session.execute(
                    select(func.count()).where(Document.collection_id == collection.id)
                ).scalar_one()
                session.delete(collection)
                generation = bump_generation(session)
            self._apply(IndexDelta(remove=chunk_ids, chunks_removed=len(chunk_ids)), generation)
        return int(documents)

    # -- documents ---------------------------------------------------------------------------------

    def write(self, documents: list[PreparedDocument]) -> IndexDelta:
        """Store documents (new or new versions) in one transaction, then update the index."""
        self._require_writable()
        total = IndexDelta()
        with deferred_interrupts():  # the commit and the index update happen together
            with self.sessions.begin() as session:
                for prepared in documents:
                    _, delta = write_document(session, prepared)
                    total.merge(delta)
                generation = bump_generation(session)
            settled = total.settled()
            self._apply(settled, generation)
        return settled

    def delete_documents(self, document_ids: list[int]) -> IndexDelta:
        self._require_writable()
        total = IndexDelta()
        with deferred_interrupts():  # the commit and the index update happen together
            with self.sessions.begin() as session:
                for document in session.execute(
                    select(Document).where(Document.id.in_(document_ids))
                ).scalars():
                    total.merge(delete_document(session, document))
                generation = bump_generation(session)
            settled = total.settled()
            self._apply(settled, generation)
        return settled

    def _apply(self, delta: IndexDelta, generation: int) -> None:
        self.index.remove(np.fromiter(delta.remove, dtype=np.int64))
        ids = list(delta.add)
        for start in range(0, len(ids), _ADD_WINDOW):  # a window at a time: no second copy of them all
            window = ids[start : start + _ADD_WINDOW]
            vectors = np.stack([np.asarray(delta.add[i], dtype=np.float32) for i in window])
            self.index.add(np.asarray(window, dtype=np.int64), vectors)
        if delta.needs_vector:
            consistency.embed_chunks(self.sessions, self.index, self.embedder, sorted(delta.needs_vector))
        self._generation = generation
        self._dirty = True

    # -- index maintenance -------------------------------------------------------------------------

    def save(self, *, sparse: bool = True) -> None:
        """Persist the vector index, and (unless ``sparse=False``, for saves in the middle of an
        ingest) bring the keyword index up to date and persist it too."""
        self._require_writable()
        if sparse:
            self.sparse_index(persist=True)
        self._index, self.index_decision = choose_index(self.index, self.index_policy, self.index_decision)
        manifest = IndexManifest(
            embedder=self.embedder.name,
            dimension=self.embedder.dimension,
            count=len(self.index),
            database_uid=self._database_uid,
            generation=self._generation,
            index_file="",
            index_params=self.index_decision.as_manifest(),
        )
        self._manifest = self.store.save(self.index, manifest)
        self._dirty = False

    def sparse_index(self, *, persist: bool = False) -> SparseIndex:
        """The keyword index for the database as it is now: cached, loaded, or rebuilt."""
        with self.session() as session:
            current = session.execute(select(KbState.generation)).scalar_one()
        if self._sparse is not None and self._sparse_generation == current:
            return self._sparse
        manifest = self.sparse_store.read_manifest()
        loaded = None
        if manifest and manifest.database_uid == self._database_uid and manifest.generation == current:
            loaded = self.sparse_store.load(manifest)
        if loaded is None:
            loaded = self._build_sparse()
            if persist and self._lock_context is not None:
                self.sparse_store.save(loaded, self._database_uid, current)
        self._sparse, self._sparse_generation = loaded, current
        return loaded

    def _build_sparse(self) -> SparseIndex:
        with self.session() as session:
            rows = consistency.stored_embedding_texts(session)
        return SparseIndex.build([chunk_id for chunk_id, _ in rows], [text for _, text in rows])

    def check(self) -> ConsistencyReport:
        return consistency.check(self.sessions, self.index)

    # -- internals ---------------------------------------------------------------------------------

    def _ensure_state(self) -> tuple[str, int]:
        with self.sessions.begin() as session:
            state = session.execute(select(KbState)).scalar_one_or_none()
            if state is None:
                state = KbState(id=1, database_uid=str(uuid.uuid4()), generation=0)
                session.add(state)
            return state.database_uid, state.generation

    def _load_index(self, *, mmap: bool = False) -> None:
        """Load the saved index; a damaged one is set aside and rebuilt from the database."""
        self.load_problem = None
        try:
            manifest = self.store.read_manifest()
            if manifest is not None:
                self._check_embedder(manifest)
                self._index, self._manifest = self.store.load(manifest, mmap=mmap), manifest
                self.index_decision = IndexDecision.from_manifest(manifest.index_kind, manifest.index_params)
                return
        except IndexCorruptError as exc:
            self.load_problem = f"{exc}; rebuilding it from the database"
        self._index = VectorIndex(self.embedder.dimension)
        self._manifest = None
        self.index_decision = None

    def _check_embedder(self, manifest: IndexManifest) -> None:
        if manifest.embedder != self.embedder.name or manifest.dimension != self.embedder.dimension:
            raise IndexMismatchError(
                f"the index in {self.store.directory} was built with embedder {manifest.embedder!r} "
                f"({manifest.dimension}-d) but the configured embedder is {self.embedder.name!r} "
                f"({self.embedder.dimension}-d); run `citewise reindex` to rebuild it"
            )

    def _quick_check(self, db_generation: int) -> ConsistencyReport | None:
        """Trust the manifest when it was saved at exactly this database's current state."""
        manifest = self._manifest
        if (
            manifest is None
            or manifest.database_uid != self._database_uid
            or manifest.generation != db_generation
        ):
            return None
        with self.session() as session:
            canonical = session.execute(
                select(func.count()).select_from(Chunk).where(Chunk.duplicate_of_id.is_(None))
            ).scalar_one()
        if canonical != len(self.index):
            return None
        return ConsistencyReport(database_chunks=canonical, index_vectors=len(self.index), full_check=False)

    def _require_writable(self) -> None:
        if self._lock_context is None:
            raise ReadOnlyError(
                "this knowledge base was opened read-only; open it with writable=True to change it"
            )

    def _acquire_lock(self, *, required: bool) -> bool:
        context = self.store.writer_lock()
        try:
            context.__enter__()
        except IndexLockedError:
            if required:
                raise
            return False
        self._lock_context = context
        return True

    def _release_lock(self) -> None:
        if self._lock_context is not None:
            self._lock_context.__exit__(None, None, None)
            self._lock_context = None
