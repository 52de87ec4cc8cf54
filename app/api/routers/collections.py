"""Collections: list (with counts), create, delete (with every document in it)."""

from __future__ import annotations

import asyncio
import shutil

from fastapi import APIRouter, Path
from sqlalchemy import select

from app.api.deps import PrincipalDep, RuntimeDep
from app.api.errors import ApiError
from app.api.queries import collections_body
from app.api.schemas import CollectionBody, CollectionOut, Deleted
from retriever.db.models import Collection
from retriever.knowledge_base import CollectionNotFoundError, KnowledgeBase

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.get("", response_model=list[CollectionOut])
async def collections(runtime: RuntimeDep, principal: PrincipalDep) -> list[CollectionOut]:
    def read() -> list[dict]:
        with runtime.kb.session() as session:
            return collections_body(session, principal.collections)

    return [CollectionOut.model_validate(row) for row in await asyncio.to_thread(read)]


@router.post("", response_model=CollectionOut, status_code=201)
async def create_collection(
    body: CollectionBody, runtime: RuntimeDep, principal: PrincipalDep
) -> CollectionOut:
    if not principal.may_see(body.name):
        raise ApiError(403, f"this API key may not use collection {body.name!r}")

    def create() -> bool:
        with runtime.kb.sessions.begin() as session:
            exists = session.execute(select(Collection.id).where(Collection.name == body.name)).first()
            if exists:
                return False
            session.add(Collection(name=body.name, description=body.description))
            return True

    if not await asyncio.to_thread(create):
        raise ApiError(409, f"collection {body.name!r} already exists")
    return CollectionOut(name=body.name, description=body.description, documents=0, chunks=0)


@router.delete("/{name}", response_model=Deleted)
async def delete_collection(
    runtime: RuntimeDep, principal: PrincipalDep, name: str = Path(min_length=1, max_length=200)
) -> Deleted:
    if not principal.may_see(name):
        raise ApiError(404, f"no collection named {name!r}")

    def remove(kb: KnowledgeBase) -> tuple[int, int]:
        before = {c.name: c.chunks for c in kb.collection_stats()}
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
