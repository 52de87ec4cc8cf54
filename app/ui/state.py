"""The UI's per-browser-session state: where the API is, the chosen options, the conversation."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from app.settings import get_settings
from app.ui.client import ApiProblem, CitewiseClient

SERVER_DEFAULT = "server default"
DEFAULTS: dict[str, Any] = {
    "k": None,  # None: the server's CITEWISE_ANSWER_K
    "mode": SERVER_DEFAULT,
    "model": "citewise",  # the server's default
    "collections": [],
    "history": [],  # [{"question": str, "answer": dict}]
    "api_key": "",
}


def init() -> None:
    """Defaults on first use. Re-assigning each value keeps it when the page holding its widget is
    not shown (Streamlit forgets the state of widgets that were not rendered in a run)."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, list(value) if isinstance(value, list) else value)
    st.session_state.setdefault("api_url", get_settings().api_url)  # environment, then .env
    for key in (*DEFAULTS, "api_url"):
        st.session_state[key] = st.session_state[key]


def client() -> CitewiseClient:
    """One HTTP client per session and API address (kept across reruns)."""
    wanted = (st.session_state.api_url, st.session_state.api_key)
    current = st.session_state.get("_client")
    if current is None or st.session_state.get("_client_for") != wanted:
        if current is not None:
            current.close()
        current = CitewiseClient(*wanted)
        st.session_state["_client"], st.session_state["_client_for"] = current, wanted
    return current


def ask_options() -> dict[str, Any]:
    """The /v1/ask options the settings page chose."""
    model = st.session_state.model
    mode = st.session_state.mode
    return {
        "k": st.session_state.k,
        "mode": None if mode == SERVER_DEFAULT else mode,
        "model": None if model == "citewise" else model,
        "collections": list(st.session_state.collections),
    }


def history_turns() -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    for turn in st.session_state.history[-6:]:
        turns += [
            {"role": "user", "content": turn["question"]},
            {"role": "assistant", "content": turn["answer"]["answer"]},
        ]
    return turns


def model_warning() -> str | None:
    """The server's note when it answers with a stand-in for its configured model (looked up once
    a minute per session: the model does not change while the server runs)."""
    now = time.monotonic()
    cached: tuple[float, str | None] | None = st.session_state.get("_model_note")
    if cached is not None and now - cached[0] < 60:
        return cached[1]
    try:
        model = client().readiness().get("answer_model") or {}
    except (ApiProblem, ValueError):
        return None  # an unreachable API is reported where a request fails
    note = model.get("fallback")
    if model.get("serving"):  # known once the server has loaded it; until then, ask again
        st.session_state["_model_note"] = (now, note)
    return note
