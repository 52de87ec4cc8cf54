"""Documents: upload (an ingest job), list, read with chunks, delete."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from app.api.deps import PrincipalDep, RuntimeDep
from app.api.errors import ApiError
from app.api.schemas import Deleted, DocumentDetail, DocumentPage, Id, UploadAccepted
from app.api.uploads import TooLarge, move_into, safe_filename, save_upload, unique_name
from app.jobs.queue import QueueUnavailableError
from ingest.jobs import queue_job
from retriever import catalog
from retriever.knowledge_base import KnowledgeBase

router = APIRouter(prefix="/v1/documents", tags=["documents"])


@router.post("", response_model=UploadAccepted, status_code=202)
async def upload_documents(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    files: Annotated[list[UploadFile], File(description="One or more documents.")],
    collection: Annotated[str | None, Form(min_length=1, max_length=200, pattern=r"^[\w][\w .@+-]*$")] = None,
) -> UploadAccepted:
    """Store the files and queue an ingest job; poll ``GET /v1/jobs/{job_id}`` for its progress.
    Without ``collection`` the files go to the server's default collection."""
    settings = runtime.settings
    collection = collection or settings.default_collection
    if not principal.may_see(collection):
        raise ApiError(403, f"this API key may not use collection {collection!r}")
    if len(files) > settings.max_upload_files:
        raise ApiError(413, f"{len(files)} files in one upload; the limit is {settings.max_upload_files}")
    # Files wait in a staging folder until at least one is accepted: a refused upload creates nothing.
    staging = settings.uploads_dir / ".staging" / uuid.uuid4().hex
    try:
        names: list[str] = []
        rejected: list[dict[str, str]] = []
        for upload in files:
            name = unique_name(staging, safe_filename(upload.filename), set(names))
            try:
                await asyncio.to_thread(save_upload, upload.file, staging, name, settings.max_file_bytes)
            except TooLarge as exc:
                rejected.append({"name": upload.filename or name, "reason": str(exc)})
                continue
            names.append(name)
        if not names:
            reasons = "; ".join(f"{r['name']}: {r['reason']}" for r in rejected) or "no files"
            raise ApiError(413 if rejected else 422, f"nothing to ingest ({reasons})")
        found = await asyncio.to_thread(runtime.kb.collection, collection, create=True)
        saved = await asyncio.to_thread(move_into, staging, names, settings.uploads_dir / str(found.id))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    job_id = await asyncio.to_thread(queue_job, runtime.kb, found.id, [str(p) for p in saved])
    try:
        await asyncio.to_thread(runtime.writer.submit_ingest, job_id)
    except QueueUnavailableError as exc:
        raise ApiError(503, f"{exc}; the upload is kept as failed job {job_id}") from exc
    return UploadAccepted.model_validate(
        {"job_id": job_id, "collection": collection, "files": names, "rejected": rejected}
    )


@router.get("", response_model=DocumentPage)
async def documents(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    collection: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=500, description="Part of the title or path.")] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DocumentPage:
    if collection and not principal.may_see(collection):
        raise ApiError(403, f"this API key may not use collection {collection!r}")

    items, total = await asyncio.to_thread(
        catalog.list_documents,
        runtime.kb,
        principal.collections,
        collection=collection,
        text=q,
        status=status,
        offset=offset,
        limit=limit,
    )
    return DocumentPage.model_validate(
        {"items": items, "total": total, "offset": offset, "limit": limit}, from_attributes=True
    )


@router.get("/{document_id}", response_model=DocumentDetail)
async def document(document_id: Id, runtime: RuntimeDep, principal: PrincipalDep) -> DocumentDetail:
    found = await asyncio.to_thread(catalog.get_document, runtime.kb, principal.collections, document_id)
    if found is None:
        raise ApiError(404, f"no document {document_id}")
    return DocumentDetail.model_validate(found, from_attributes=True)


@router.delete("/{document_id}", response_model=Deleted)
async def delete_document(document_id: Id, runtime: RuntimeDep, principal: PrincipalDep) -> Deleted:
    """Removes the document, its chunks and vectors; a file it was uploaded as is deleted too."""

    found = await asyncio.to_thread(catalog.document_place, runtime.kb, document_id)
    if found is None or not principal.may_see(found[0]):
        raise ApiError(404, f"no document {document_id}")
    uploads = runtime.settings.uploads_dir.resolve()

    def remove(kb: KnowledgeBase) -> int:
        delta = kb.delete_documents([document_id])
        path = Path(found[1])
        if uploads in path.parents:
            path.unlink(missing_ok=True)
        return delta.chunks_removed

    removed = await asyncio.wait_for(
        asyncio.wrap_future(runtime.writer.call(remove)), runtime.settings.request_timeout_s
    )
    return Deleted(deleted=f"document {document_id}", documents=1, chunks_removed=removed)
