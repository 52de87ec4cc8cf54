"""The documents page: choose or create a collection, upload with a progress bar, list, delete."""

from __future__ import annotations

import time

import streamlit as st

from app.ui import state
from app.ui.client import ApiProblem

state.init()
st.title("Documents")
api = state.client()

try:
    collections = api.collections()
except ApiProblem as exc:
    st.error(str(exc))
    st.stop()

names = [c["name"] for c in collections]
left, right = st.columns([2, 1])
with left:
    chosen = st.selectbox(
        "Collection", names or [state.SERVER_DEFAULT], index=0, key="documents_collection",
        help="Uploads go into this collection; questions can be limited to it in Settings.",
    )  # fmt: skip
with right, st.popover("New collection", width="stretch"):
    new_name = st.text_input("Name", key="new_collection_name")
    new_description = st.text_input("Description", key="new_collection_description")

    def create() -> None:
        """A callback: it runs before the widgets exist, so it may set their values."""
        name = st.session_state.new_collection_name.strip()
        try:
            api.create_collection(name, st.session_state.new_collection_description)
        except ApiProblem as exc:
            st.session_state.documents_problem = str(exc)
            return
        st.session_state.documents_collection = name
        st.session_state.new_collection_name = ""
        st.session_state.new_collection_description = ""

    st.button("Create", key="create_collection", disabled=not new_name.strip(), on_click=create)
if problem := st.session_state.pop("documents_problem", None):
    st.error(problem)
if notice := st.session_state.pop("documents_notice", None):
    st.success(notice)

st.subheader("Upload")
files = st.file_uploader(
    "PDF, Word, HTML, Markdown, reStructuredText or plain text", accept_multiple_files=True, key="uploads"
)
if st.button("Ingest", type="primary", disabled=not files, key="ingest"):
    try:
        target = chosen if names else None  # None: the server's default collection
        accepted = api.upload(target, [(f.name, f.getvalue()) for f in files])
    except ApiProblem as exc:
        st.error(str(exc))
    else:
        for rejected in accepted["rejected"]:
            st.warning(f"{rejected['name']}: {rejected['reason']}")
        bar = st.progress(0.0, text="queued")
        while True:
            job = api.job(accepted["job_id"])
            total = job["files_total"] or len(accepted["files"])
            done = min(job["files_done"], total)
            bar.progress(done / total if total else 0.0, text=f"{job['status']}: {done} of {total} files")
            if job["status"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        counts = job["counts"]
        if job["status"] == "completed":
            st.success(
                f"Ingested {counts.get('added', 0)} new and {counts.get('updated', 0)} changed file(s), "
                f"{counts.get('chunks_added', 0)} passages; {counts.get('unchanged', 0)} unchanged."
            )
        else:
            st.error(f"The ingest job {job['status']}.")
        for error in job["errors"]:
            st.warning(f"{error['path'].rsplit('/', 1)[-1] or 'job'}: {error['reason']}")

st.subheader(f"In “{chosen}”")
try:
    page = api.documents(chosen if names else None)
except ApiProblem as exc:
    st.error(str(exc))
    st.stop()
items = page["items"]
if not items:
    st.info("No documents yet: upload some above.")
else:
    st.dataframe(
        [
            {
                "id": d["id"],
                "title": d["title"],
                "file": d["source_uri"].rsplit("/", 1)[-1],
                "status": d["status"],
                "passages": d["chunks"],
                "KB": round(d["size_bytes"] / 1024, 1),
                "version": d["version"],
                "updated": d["updated_at"][:16].replace("T", " "),
            }
            for d in items
        ],
        hide_index=True,
        width="stretch",
    )
    if page["total"] > len(items):
        st.caption(f"Showing {len(items)} of {page['total']}.")
    labels = {f"{d['title']} ({d['source_uri'].rsplit('/', 1)[-1]}, id {d['id']})": d["id"] for d in items}
    doomed = st.selectbox("Delete a document", list(labels), index=None, key="delete_choice")

    def delete() -> None:
        label = st.session_state.delete_choice
        try:
            result = api.delete_document(labels[label])
        except ApiProblem as exc:
            st.session_state.documents_problem = str(exc)
            return
        st.session_state.delete_choice = None
        st.session_state.documents_notice = f"Deleted {label} ({result['chunks_removed']} passages)."

    st.button("Delete", key="delete_document", disabled=not doomed, on_click=delete)
