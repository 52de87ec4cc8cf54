"""JSON answers: what the citation check reads of them, and the grammar they are held to."""

from __future__ import annotations

import pytest

from generator.structured import ANSWER_OBJECT, SchemaError, checkable_text, json_strings, schema_grammar


def test_string_and_number_values_are_read_in_order_and_keys_are_not() -> None:
    text = '{"answer": "8501 [1]", "port": 8501, "ok": true, "steps": ["Run it. [2]", " "]}'
    assert json_strings(text) == ["8501 [1]", "8501", "Run it. [2]"]
    assert json_strings('{"answer": "cut sho') is None


def test_each_value_is_one_sentence_for_the_check() -> None:
    assert checkable_text(["8501 [1]", "Run it. [2]", "Why?"]) == "8501 [1]. Run it. [2] Why?"


def test_the_grammar_keeps_control_characters_out_of_strings() -> None:
    grammar = schema_grammar(ANSWER_OBJECT)
    [char_rule] = [line for line in grammar.splitlines() if line.startswith("char ::=")]
    assert char_rule.startswith(r'char ::= [^"\\\x7F\x00-\x1F]')
    with pytest.raises(SchemaError, match="no grammar"):
        schema_grammar('{"type": "no-such-type"}')
