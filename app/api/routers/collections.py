"""Collections: list (with counts), create, delete (with every document in it)."""

from __future__ import annotations

import asyncio
import shutil

from fastapi import APIRouter, Path

from app.api.deps import PrincipalDep, RuntimeDep
from app.api.errors import ApiError
from app.api.schemas import CollectionBody, CollectionOut, Deleted
from retriever import catalog
from retriever.knowledge_base import CollectionNotFoundError, KnowledgeBase

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.get("", response_model=list[CollectionOut])
async def collections(runtime: RuntimeDep, principal: PrincipalDep) -> list[CollectionOut]:
    rows = await asyncio.to_thread(catalog.collection_rows, runtime.kb, principal.collections)
    return [CollectionOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("", response_model=CollectionOut, status_code=201)
async def create_collection(
    body: CollectionBody, runtime: RuntimeDep, principal: PrincipalDep
) -> CollectionOut:
    if not principal.may_see(body.name):
        raise ApiError(403, f"this API key may not use collection {body.name!r}")

    if not await asyncio.to_thread(catalog.create_collection, runtime.kb, body.name, body.description):
        raise ApiError(409, f"collection {body.name!r} already exists")
    return CollectionOut(name=body.name, description=body.description, documents=0, chunks=0)


@router.delete("/{name}", response_model=Deleted)
async def delete_collection(
    runtime: RuntimeDep, principal: PrincipalDep, name: str = Path(min_length=1, max_length=200)
) -> Deleted:
    if not principal.may_see(name):
        raise ApiError(404, f"no collection named {name!r}")

    def remove(kb: KnowledgeBase) -> tuple[int, int]:
        before = {c.name: c.chunks for c in catalog.collection_rows(kb)}
        if name not in before:
            raise CollectionNotFoundError(f"no collection named {name!r}")
        folder = runtime.settings.uploads_dir / str(kb.collection(name).id)
        documents = kb.delete_collection(name)
        shutil.rmtree(folder, ignore_errors=True)  # the files uploaded into it
        return documents, before[name]

    documents, chunks = await asyncio.wait_for(
        asyncio.wrap_future(runtime.writer.call(remove)), runtime.settings.request_timeout_s
    )
    return Deleted(deleted=f"collection {name}", documents=documents, chunks_removed=chunks)
