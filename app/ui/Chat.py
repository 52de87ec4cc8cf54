"""The web UI's entry point (``citewise ui``): four pages over the REST API."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

if __package__ in (None, ""):  # streamlit runs this file as a script: make `app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.ui import state

st.set_page_config(page_title="Citewise", page_icon=":material/menu_book:", layout="wide")
state.init()
pages = Path(__file__).resolve().parent / "views"
navigation = st.navigation(
    [
        st.Page(pages / "chat.py", title="Ask", icon=":material/forum:", default=True),
        st.Page(pages / "documents.py", title="Documents", icon=":material/description:"),
        st.Page(pages / "evaluation.py", title="Evaluation", icon=":material/monitoring:"),
        st.Page(pages / "settings.py", title="Settings", icon=":material/settings:"),
    ]
)
navigation.run()
