"""The chat page: ask, watch the answer stream in, read the cited passages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import streamlit as st

from app.ui import render, state
from app.ui.client import ApiProblem

state.init()
st.markdown(render.STYLE, unsafe_allow_html=True)
st.title("Ask your documents")
st.caption("Every sentence of an answer cites the passage it comes from; click a marker to see it.")
note = state.model_warning()
if note:
    st.warning(note[0].upper() + note[1:], icon=":material/warning:")


def show(turn: int, entry: dict[str, Any]) -> None:
    with st.chat_message("user"):
        st.markdown(entry["question"])
    with st.chat_message("assistant"):
        answer = entry["answer"]
        st.markdown(render.answer_html(answer, turn), unsafe_allow_html=True)
        if answer["unsupported_sentences"]:
            st.caption("Not supported by the cited passages: " + " ".join(answer["unsupported_sentences"]))
        label = "Closest passages" if answer["abstained"] else f"Sources ({len(answer['citations'])})"
        with st.expander(label, expanded=not answer["abstained"]):
            st.markdown(render.sources_html(answer, turn), unsafe_allow_html=True)


with st.sidebar:
    st.subheader("Conversation")
    if st.button("New conversation", width="stretch", disabled=not st.session_state.history):
        st.session_state.history = []
        st.rerun()
    scope = ", ".join(st.session_state.collections) or "all collections"
    k = st.session_state.k or "the server's"
    st.caption(f"Answering from {scope}; k: {k}, search: {st.session_state.mode}.")

for number, entry in enumerate(st.session_state.history):
    show(number, entry)

question = st.chat_input("Ask a question about your documents")
if question:
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        outcome: dict[str, Any] = {"answer": None, "problem": ""}

        def tokens(asked: str) -> Iterator[str]:
            try:
                for event in state.client().ask_stream(
                    asked, history=state.history_turns(), **state.ask_options()
                ):
                    if event.kind == "token":
                        yield event.data["text"]
                    elif event.kind == "done":
                        outcome["answer"] = event.data
                    elif event.kind == "error":
                        outcome["problem"] = event.data.get("detail", "the answer failed")
            except ApiProblem as exc:
                outcome["problem"] = str(exc)

        st.write_stream(tokens(question))
    if outcome["problem"]:
        st.error(outcome["problem"])
    elif outcome["answer"]:
        st.session_state.history.append({"question": question, "answer": outcome["answer"]})
        st.rerun()
