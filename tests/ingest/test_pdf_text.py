"""The PDF paragraph heuristics, tested on line lists so each rule is pinned down exactly."""

from __future__ import annotations

from ingest.loaders.pdf_text import (
    join_lines,
    page_lines,
    paragraphs,
    running_line_keys,
    strip_running_lines,
    typical_line_length,
)

FULL = "x" * 70


def test_hyphen_at_line_end_is_mended_only_before_a_lowercase_word() -> None:
    assert join_lines(["an exam-", "ple here"]) == "an example here"
    assert join_lines(["the well-", "Known case"]) == "the well- Known case"
    assert join_lines(["range 1-", "2"]) == "range 1- 2"


def test_blank_lines_split_paragraphs_when_present() -> None:
    lines = ["First para line one", "line two", "", "Second para"]
    assert paragraphs(lines, typical=100) == ["First para line one line two", "Second para"]


def test_sentence_end_before_capital_ends_a_paragraph() -> None:
    lines = [f"{FULL} done.", f"Next {FULL}", f"{FULL} end"]
    assert paragraphs(lines, typical=75) == [f"{FULL} done.", f"Next {FULL} {FULL} end"]


def test_sentence_end_before_lowercase_does_not_end_a_paragraph() -> None:
    lines = [f"{FULL} e.g.", f"lowercase {FULL}"]
    assert len(paragraphs(lines, typical=80)) == 1


def test_short_line_ends_a_paragraph() -> None:
    lines = [f"{FULL} aa", "short tail", f"{FULL} bb"]
    assert paragraphs(lines, typical=73) == [f"{FULL} aa short tail", f"{FULL} bb"]


def test_numbered_heading_starts_a_new_paragraph() -> None:
    lines = [f"{FULL} attention.", "2.7.11 Who uploaded the package?", f"Although {FULL}"]
    assert paragraphs(lines, typical=81)[1] == "2.7.11 Who uploaded the package?"


def test_running_headers_are_found_despite_changing_page_numbers() -> None:
    pages = [
        [f"Debian Reference {n}/233", "Body text unique to the page " + "abcde"[n], str(n)] for n in range(5)
    ]
    running = running_line_keys(pages)
    assert running == {"debian reference"}
    assert strip_running_lines(pages[2], running) == ["Body text unique to the page c"]


def test_roman_numbered_front_matter_headers_share_a_key() -> None:
    pages = [
        ["Debian Reference xii", "Alpha"],
        ["Debian Reference 7/233", "Beta"],
        ["Debian Reference 8/233", "Gamma"],
    ]
    assert running_line_keys(pages) == {"debian reference"}


def test_headers_need_half_the_pages() -> None:
    pages = [["Chapter One", "a"], ["Chapter One", "b"], ["Other", "c"], ["Else", "d"], ["More", "e"]]
    assert "chapter one" not in running_line_keys(pages)


def test_short_documents_never_lose_lines_as_headers() -> None:
    pages = [["Same line", "x"], ["Same line", "y"]]
    assert running_line_keys(pages) == set()


def test_bare_page_numbers_at_the_edges_are_dropped_but_not_in_the_body() -> None:
    lines = ["- 12 -", "Intro", "1010", "middle", "more", "text", "here", "and", "Page 3 of 9"]
    assert strip_running_lines(lines, set()) == ["Intro", "1010", "middle", "more", "text", "here", "and"]


def test_control_characters_are_removed() -> None:
    assert page_lines("a\x00b\r\nc\x07") == ["ab", "c"]


def test_winansi_bullet_code_becomes_a_bullet() -> None:
    assert page_lines("\x7f item") == ["• item"]


def test_typical_length_ignores_a_minority_of_short_lines() -> None:
    pages = [[FULL] * 6 + ["a", "b"]]
    assert typical_line_length(pages) == len(FULL)


def test_pages_with_one_line_have_no_running_header() -> None:
    pages = [[f"Reading {n}: {20 + n}.5 degrees"] for n in range(5)]
    assert running_line_keys(pages) == set()


def test_stripping_never_empties_a_page_but_bare_page_numbers_go() -> None:
    running = {"acme handbook"}
    assert strip_running_lines(["ACME Handbook 3", "12"], running) == ["ACME Handbook 3"]
    assert strip_running_lines(["ACME Handbook 3", "Body", "12"], running) == ["Body"]
    assert strip_running_lines(["12"], running) == []
