"""The chunker: exact offsets, token budget, structure, overlap, pages."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunking import Chunker
from ingest.document import BlockKind, ParsedDocument, TextAssembler


def word_count(texts):
    return [len(t.split()) for t in texts]


def build(blocks: list[tuple[str, BlockKind, tuple[str, ...], int | None]]) -> ParsedDocument:
    assembler = TextAssembler()
    for content, kind, path, page in blocks:
        assembler.add(content, kind, path, page)
    return ParsedDocument(assembler.text, assembler.blocks, "doc", "text/plain")


def sentences(prefix: str, n: int, words_each: int = 6) -> str:
    return " ".join(f"{prefix} sentence {i} " + " ".join(["word"] * (words_each - 3)) + "." for i in range(n))


def test_chunks_are_exact_spans_within_budget_and_end_on_sentences() -> None:
    doc = build([(sentences("Alpha", 60), BlockKind.PARAGRAPH, ("Top",), None)])
    chunks = Chunker(word_count, max_tokens=50, overlap_tokens=10).chunk(doc)
    assert len(chunks) > 5
    for chunk in chunks:
        text = doc.text[chunk.char_start : chunk.char_end]
        assert chunk.token_count == len(text.split()) <= 50
        assert text.endswith(".") and text[0].isupper()  # never cut mid-sentence when avoidable
        assert chunk.heading_path == ("Top",)


def test_neighbouring_chunks_overlap_by_whole_sentences() -> None:
    doc = build([(sentences("Beta", 40), BlockKind.PARAGRAPH, (), None)])
    chunks = Chunker(word_count, max_tokens=40, overlap_tokens=12).chunk(doc)
    for previous, current in itertools.pairwise(chunks):
        overlap = previous.char_end - current.char_start
        assert overlap > 0, "expected overlapping neighbours"
        assert len(doc.text[current.char_start : previous.char_end].split()) <= 12


def test_sections_start_new_chunks_and_keep_their_heading_path() -> None:
    doc = build(
        [
            ("Guide", BlockKind.HEADING, ("Guide",), None),
            (sentences("Intro", 15), BlockKind.PARAGRAPH, ("Guide",), None),
            ("Install", BlockKind.HEADING, ("Guide", "Install"), None),
            (sentences("Install", 8), BlockKind.PARAGRAPH, ("Guide", "Install"), None),
        ]
    )
    # Both sections are above a quarter of the budget, so neither is merged into the other.
    chunks = Chunker(word_count, max_tokens=200, overlap_tokens=20).chunk(doc)
    assert [c.heading_path for c in chunks] == [("Guide",), ("Guide", "Install")]
    assert doc.text[chunks[1].char_start :].startswith("Install")


def test_a_tiny_section_is_merged_into_the_next_under_their_common_heading() -> None:
    doc = build(
        [
            ("Guide", BlockKind.HEADING, ("Guide",), None),
            ("Short intro.", BlockKind.PARAGRAPH, ("Guide",), None),
            ("Install", BlockKind.HEADING, ("Guide", "Install"), None),
            (sentences("Install", 5), BlockKind.PARAGRAPH, ("Guide", "Install"), None),
        ]
    )
    chunks = Chunker(word_count, max_tokens=200, overlap_tokens=20).chunk(doc)
    assert len(chunks) == 1 and chunks[0].heading_path == ("Guide",)


def test_chunks_never_span_pages() -> None:
    doc = build(
        [
            ("Page one text here.", BlockKind.PARAGRAPH, (), 1),
            ("Page two text here.", BlockKind.PARAGRAPH, (), 2),
            (sentences("Three", 30), BlockKind.PARAGRAPH, (), 3),
        ]
    )
    chunks = Chunker(word_count, max_tokens=50, overlap_tokens=5).chunk(doc)
    assert [c.page for c in chunks][:2] == [1, 2]
    for chunk in chunks:
        assert chunk.page is not None
        assert all(b.page == chunk.page for b in doc.blocks if chunk.char_start <= b.start < chunk.char_end)


def test_an_overlong_sentence_is_split_at_word_boundaries() -> None:
    doc = build([(" ".join(f"w{i}" for i in range(500)), BlockKind.PARAGRAPH, (), None)])
    chunks = Chunker(word_count, max_tokens=100, overlap_tokens=10).chunk(doc)
    assert all(c.token_count <= 100 for c in chunks)
    words = [w for c in chunks for w in doc.text[c.char_start : c.char_end].split()]
    assert words == [f"w{i}" for i in range(500)]  # nothing lost, nothing repeated, no word cut


def test_code_blocks_split_on_lines_not_sentences() -> None:
    code = "\n".join(f"value_{i} = compute({i}) + other.thing" for i in range(40))
    doc = build([(code, BlockKind.CODE, ("API",), None)])
    chunks = Chunker(word_count, max_tokens=50, overlap_tokens=0).chunk(doc)
    for chunk in chunks:
        text = doc.text[chunk.char_start : chunk.char_end]
        assert text.startswith("value_") and text.endswith("other.thing")


_paragraph = st.lists(
    st.text(alphabet="abcdefgh XYZ.,!?\n", min_size=1, max_size=80), min_size=1, max_size=6
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(_paragraph, st.sampled_from(list(BlockKind)), st.integers(0, 3)), min_size=1, max_size=12
    ),
    st.integers(8, 60),
)
def test_property_every_chunk_is_an_exact_in_bounds_span_covering_all_words(blocks, budget) -> None:
    doc = build([(text, kind, tuple(f"h{i}" for i in range(depth)), None) for text, kind, depth in blocks])
    chunks = Chunker(word_count, max_tokens=budget, overlap_tokens=budget // 4).chunk(doc)
    covered = [False] * len(doc.text)
    for chunk in chunks:
        assert 0 <= chunk.char_start < chunk.char_end <= len(doc.text)
        assert chunk.token_count == len(doc.text[chunk.char_start : chunk.char_end].split())
        for i in range(chunk.char_start, chunk.char_end):
            covered[i] = True
    for block in doc.blocks:  # every non-space character of every block lands in some chunk
        assert all(covered[i] or doc.text[i].isspace() for i in range(block.start, block.end))


def test_a_bare_parent_heading_takes_the_path_of_the_section_it_introduces() -> None:
    doc = build(
        [
            ("Operations", BlockKind.HEADING, ("Operations",), None),
            ("Backups", BlockKind.HEADING, ("Operations", "Backups"), None),
            (sentences("Backup", 12), BlockKind.PARAGRAPH, ("Operations", "Backups"), None),
        ]
    )
    chunks = Chunker(word_count, max_tokens=200, overlap_tokens=20).chunk(doc)
    assert [c.heading_path for c in chunks] == [("Operations", "Backups")]
    assert doc.text[chunks[0].char_start :].startswith("Operations")
