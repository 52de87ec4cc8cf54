"""The settings page: where the API is, the key, and how answers are made."""

from __future__ import annotations

import streamlit as st

from app.ui import state
from app.ui.client import ApiProblem

state.init()
st.title("Settings")

st.text_input("API URL", key="api_url", help="The Citewise REST API this UI talks to.")
st.text_input("API key", key="api_key", type="password", help="Only needed when the server requires keys.")
api = state.client()
if api.health():
    st.success(f"Connected to {api.base_url}")
else:
    st.error(f"No Citewise API answers at {api.base_url}; start it with `citewise serve`.")

st.subheader("Answers")
st.number_input(
    "Passages per answer (k)", min_value=1, max_value=50, value=None, step=1, key="k",
    placeholder=state.SERVER_DEFAULT,
    help="Empty: the server's default (CITEWISE_ANSWER_K).",
)  # fmt: skip
st.radio(
    "Search", [state.SERVER_DEFAULT, "hybrid", "dense", "sparse"], key="mode", horizontal=True,
    help="hybrid = meaning and keywords; dense = meaning; sparse = keywords (BM25)",
)  # fmt: skip
try:
    models = api.models()
    names = [c["name"] for c in api.collections()]
except ApiProblem as exc:
    st.warning(str(exc))
    models, names = ["citewise"], []
if st.session_state.model not in models:
    st.session_state.model = "citewise"
st.selectbox("Model", models, key="model", help="citewise = the server's default model")
st.session_state.collections = [c for c in st.session_state.collections if c in names]
st.multiselect("Answer from collections", names, key="collections", placeholder="all collections")
