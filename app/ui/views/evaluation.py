"""The Evaluation page: the saved ``citewise eval`` runs of a collection side by side, their main
metrics over time, and one run's failed questions grouped by where the pipeline went wrong.

Everything comes from ``/v1/evals``; the page never reads the data dir itself (the UI may run on
another machine than the API).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from app.ui import state
from app.ui.client import ApiProblem

# The metrics compared across runs ("side by side"); all of them are in every saved summary.
MAIN_METRICS = (
    "answer_correct",
    "token_f1",
    "abstention_f1",
    "citation_precision",
    "hit_at_k",
    "mrr",
    "total_p50_s",
)
CHARTED_BY_DEFAULT = ["answer_correct", "token_f1", "citation_precision", "hit_at_k"]
# Failure classes in pipeline order (retrieve → read → answer → cite), as docs/evaluation.md names them.
FAILURE_LABELS = {
    "answered_unanswerable": "Answered a question the documents do not answer",
    "not_retrieved": "Source not retrieved",
    "retrieved_not_read": "Source retrieved but not read",
    "wrongly_abstained": "Abstained on an answerable question",
    "answered_wrongly": "Answered wrongly",
    "citation_unsupported": "Correct answer, unsupported citation",
}


def run_label(run: dict[str, Any]) -> str:
    when = str(run["time"])[:16].replace("T", " ")
    partial = " (partial)" if run.get("partial") else ""
    return f"{when} · {run['variant']}{partial}"


def runs_table(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run, newest first: what ran, how much of it, and the main metrics."""
    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "run": run_label(run),
            "model": run.get("model") or "configured",
            "settings": ", ".join(f"{k}={v}" for k, v in (run.get("settings") or {}).items()),
            "answered": f"{run['answered']}/{run['planned']}",
            "questions": run.get("question_file") or "",
            "tag": run.get("tag") or "",
        }
        row |= {name: run["metrics"].get(name) for name in MAIN_METRICS}
        rows.append(row)
    return pd.DataFrame(rows)


def metrics_over_time(runs: list[dict[str, Any]], chosen: list[str]) -> pd.DataFrame:
    """Long form (time, variant, metric, value), oldest first; unmeasured metrics are left out."""
    rows = [
        {"time": pd.Timestamp(run["time"]), "variant": run["variant"], "metric": name, "value": value}
        for run in reversed(runs)
        for name in chosen
        if (value := run["metrics"].get(name)) is not None
    ]
    return pd.DataFrame(rows, columns=["time", "variant", "metric", "value"])


def failure_rows(results: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """The failed questions by class, in pipeline order (unknown classes from newer runs last)."""
    grouped: dict[str, list[dict[str, str]]] = {name: [] for name in FAILURE_LABELS}
    for row in results:
        failure = row.get("failure")
        if not failure:
            continue
        answer = f"abstained: {row.get('abstain_reason') or 'no reason given'}"
        if not row.get("abstained"):
            answer = row.get("answer") or ""
        grouped.setdefault(failure, []).append(
            {
                "id": str(row.get("id", "")),
                "question": row.get("question", ""),
                "answer": answer,
                "expected": row.get("expected", ""),
                "expected sources": ", ".join(str(s) for s in row.get("sources") or []),
                "sources": ", ".join(name.rsplit("/", 1)[-1] for name in row.get("passages") or []),
            }
        )
    return {name: rows for name, rows in grouped.items() if rows}


state.init()
st.title("Evaluation")
api = state.client()

try:
    names = [c["name"] for c in api.collections()]
except ApiProblem as exc:
    st.error(str(exc))
    st.stop()
if not names:
    st.info("No collections yet: ingest documents on the Documents page, then run `citewise eval`.")
    st.stop()

collection = st.selectbox("Collection", names, index=0, key="eval_collection")
try:
    runs = api.eval_runs(collection)
except ApiProblem as exc:
    st.error(str(exc))
    st.stop()
if not runs:
    st.info(
        f"No evaluation runs of “{collection}” yet: run `citewise eval FILE -c {collection}` "
        "(see docs/evaluation.md for the question file) and its results appear here."
    )
    st.stop()

st.subheader("Runs")
metric_format = {name: st.column_config.NumberColumn(format="%.3f") for name in MAIN_METRICS}
st.dataframe(runs_table(runs), hide_index=True, width="stretch", column_config=metric_format)
st.caption("Newest first. Fractions from 0 to 1; total_p50_s in seconds; empty: not measured.")

st.subheader("Across runs")
charted = st.multiselect("Metrics", list(MAIN_METRICS), default=CHARTED_BY_DEFAULT, key="eval_chart_metrics")
points = metrics_over_time(runs, charted)
if points.empty:
    st.info("Choose metrics that these runs measured.")
else:
    chart = (
        alt.Chart(points)
        .mark_line(point=True)
        .encode(
            x=alt.X("time:T", title="run"),
            y=alt.Y("value:Q", title=None),
            color=alt.Color("metric:N"),
            strokeDash=alt.StrokeDash("variant:N"),
            tooltip=["time:T", "variant:N", "metric:N", alt.Tooltip("value:Q", format=".3f")],
        )
    )
    st.altair_chart(chart, width="stretch")

st.subheader("Failures of a run")
labels = {run["id"]: run_label(run) for run in runs}
run_id = st.selectbox("Run", list(labels), format_func=labels.__getitem__, key="eval_run")
try:
    run = api.eval_run(collection, run_id)
except ApiProblem as exc:
    st.error(str(exc))
    st.stop()
results = run["results"]
if not results:
    st.info("This run was saved without its questions (by an older version); only its metrics are kept.")
    st.stop()
failed = failure_rows(results)
total_failed = sum(len(rows) for rows in failed.values())
st.write(f"{len(results) - total_failed} of {len(results)} questions succeeded.")
for name, rows in failed.items():
    with st.expander(f"{FAILURE_LABELS.get(name, name)} ({len(rows)})", expanded=len(failed) == 1):
        st.caption(f"Failure class `{name}`")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
