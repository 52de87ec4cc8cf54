"""The UI's HTML: document and model text is escaped, markers link to their cards, spans highlight."""

from __future__ import annotations

from app.ui.render import answer_html, passage_html, sources_html

PASSAGE = "# Title\n\nIntro. The key is <b>kept</b> in the safe. Outro *stars*."


def _answer(**changes):
    citation = {
        "number": 1, "document_id": 1, "chunk_id": 7, "source_uri": "/x/notes.md", "title": "Notes",
        "page": 3, "heading": "Keys", "char_start": 116, "char_end": 151, "quote": "q", "supported": True,
    }  # fmt: skip
    source = {
        "chunk_id": 7, "char_start": 100, "text": PASSAGE, "title": "Notes", "source_uri": "/x/notes.md",
        "heading": "Keys", "page": 3,
    }  # fmt: skip
    answer = {"answer": "It is in the safe <script>x</script> [1]. Also [2].", "abstained": False,
              "citations": [citation], "sources": [source]}  # fmt: skip
    return {**answer, **changes}


def test_markers_link_to_their_card_and_text_is_escaped() -> None:
    html = answer_html(_answer(), turn=4)
    assert '<a class="cw-cite" href="#cw-t4-s1">[1]</a>' in html
    assert "[2]" in html and "#cw-t4-s2" not in html  # a marker with no citation stays plain text
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_an_unsupported_citation_is_marked() -> None:
    answer = _answer()
    answer["citations"][0]["supported"] = False
    assert 'class="cw-cite cw-unsupported"' in answer_html(answer, 0)
    assert "not supported" in sources_html(answer, 0)


def test_the_card_highlights_the_span_and_never_renders_markup() -> None:
    cards = sources_html(_answer(), turn=0)
    assert 'id="cw-t0-s1"' in cards and "notes.md · Keys · p. 3" in cards
    assert "<mark>The key is &lt;b&gt;kept&lt;/b&gt; in the safe.</mark>" in cards
    assert "\n" not in cards  # one HTML block: Markdown cannot turn "# Title" into a heading


def test_passage_window_is_clamped() -> None:
    assert passage_html("abc", -5, 99) == '<div class="cw-passage"><mark>abc</mark></div>'
    long = passage_html("x" * 1000 + "HIT" + "y" * 1000, 1000, 1003, context=10)
    assert long.startswith('<div class="cw-passage">… ') and long.endswith(" …</div>")


def test_abstention_shows_the_closest_passages_plainly() -> None:
    answer = _answer(abstained=True, abstain_reason="weak retrieval", citations=[])
    assert "The documents don" in answer_html(answer, 0) and "cw-none" in answer_html(answer, 0)
    cards = sources_html(answer, 0)
    assert "Notes" in cards and "<mark>" not in cards
