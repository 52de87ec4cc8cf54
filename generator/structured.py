"""Answers written as JSON (an API client's ``response_format``): the text the citation check reads.

The model's JSON goes to the client as written; its citations are checked on the string values it
holds, each read as a sentence, so "[1]" inside ``{"answer": "8501 [1]"}`` is checked like the
same words in a plain answer.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from generator.citations import strip_markers

# response_format json_object: an object with the answer in one string. Given any object to write,
# the 0.5B model wrote keys of its own and no answer (the guide's questions, 3 of 3 abstained).
ANSWER_OBJECT = '{"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}'


def json_strings(text: str) -> list[str] | None:
    """The string and number values of a JSON document in order (not its keys); None when it is
    not JSON."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    found: list[str] = []
    _collect(document, found)
    return found


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        if value.strip():
            found.append(value.strip())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found.append(str(value))  # {"port": 8501} is checked as "8501."
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def checkable_text(strings: list[str]) -> str:
    """The strings as one text of sentences: a full stop is added where one has no end."""
    ended = [s if strip_markers(s).endswith((".", "!", "?")) else f"{s}." for s in strings]
    return " ".join(ended)


class SchemaError(ValueError):
    """A JSON schema no grammar can be made from."""


# llama-cpp-python 0.3.36 lets a JSON string hold any character but a quote or a backslash, raw
# line breaks included (SmolLM2 wrote one, and the reply was not JSON); JSON forbids U+0000-U+001F.
_LOOSE_CHAR = r'char ::= [^"\\]'
_JSON_CHAR = r'char ::= [^"\\\x7F\x00-\x1F]'


@lru_cache(maxsize=64)  # the API checks a request's schema, then the model's thread uses it
def schema_grammar(schema: str) -> str:
    """The GBNF grammar of replies matching ``schema`` (JSON text); ``SchemaError`` when there is
    none. Raised here, a caller can refuse the request before the model's thread takes it."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        grammar = json_schema_to_gbnf(schema)
    except Exception as exc:  # the converter raises bare exceptions of several kinds
        raise SchemaError(f"no grammar can be made from this JSON schema ({exc})") from exc
    return grammar.replace(_LOOSE_CHAR, _JSON_CHAR)
