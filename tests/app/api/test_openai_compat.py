"""The sources written after an answer for text-only clients."""

from __future__ import annotations

from app.api.openai_compat import error_body, sources_text


def _answer(text: str, *numbers: int) -> dict:
    citations = [
        {"number": n, "source_uri": f"/docs/file{n}.md", "heading": f"Guide › Part {n}", "page": None}
        for n in numbers
    ]
    return {"answer": text, "citations": citations}


def test_one_line_per_cited_passage_with_its_page() -> None:
    answer = _answer("8501 [2].", 2)
    answer["citations"][0]["page"] = 4
    assert sources_text(answer) == "\n\nSources:\n[2] file2.md › Guide › Part 2 (page 4)"
    assert sources_text(_answer("The documents do not say.")) == ""


def test_a_stream_the_check_renumbered_gets_the_checked_answer_first() -> None:
    answer = _answer("8501 [2].", 2)
    assert sources_text(answer, streamed="8501  [2].") == "\n\nSources:\n[2] file2.md › Guide › Part 2"
    renumbered = sources_text(answer, streamed="8501 [1].")
    assert renumbered == "\n\nChecked answer: 8501 [2].\n\nSources:\n[2] file2.md › Guide › Part 2"


def test_errors_name_their_kind_by_status() -> None:
    assert error_body(504, "slow")["error"]["type"] == "timeout"
    expected = {"message": "x", "type": "server_error", "param": None, "code": None}
    assert error_body(502, "x")["error"] == expected
