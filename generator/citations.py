"""Checking an answer's citations against the passages it was given.

The answer is split into sentences; each sentence's [n] markers are read. Markers that point at a
passage the model was not given are removed. A citation is *supported* when the sentence's content
words are found in the cited passage (lexical overlap) or the two mean the same (embedding
similarity, when an embedder is supplied); each supported citation also names the passage
sentence that supports it best, as a character span inside the passage text.

Only what the passage says as data supports an answer: a sentence that repeats passage text flagged
as an instruction to the model (``generator.injection``) more closely than any other passage text is
flagged and never supported, whether or not the model was shown that text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from generator.injection import Flag, clean_spans, flagged_units
from generator.prompt import NOT_IN_DOCUMENTS, Passage
from generator.sentences import sentence_spans as sentence_spans  # re-exported: callers import it here

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_WORD = re.compile(r"\w+")
# A sentence ends at . ! or ? (and any citation markers right after it) followed by whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?])((?:\s*\[\d+(?:\s*,\s*\d+)*\])*)\s+")
_STOPWORD_TEXT = (
    "a an and are as at be been but by can did do does for from had has have he her his how i if in into "
    "is it its more most no not of on or our she so such than that the their them then there these they "
    "this those to was we were what when where which who why will with would you your"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> unit vectors, one row each


@dataclass(frozen=True, slots=True)
class CitationPolicy:
    min_lexical: float = 0.5  # share of the sentence's content words found in the passage
    min_semantic: float = 0.6  # cosine between sentence and best passage sentence


@dataclass(frozen=True, slots=True)
class Support:
    passage: int  # the cited passage number
    supported: bool
    lexical: float
    semantic: float | None
    span: tuple[int, int]  # best supporting sentence, as offsets into the passage text
    inferred: bool = False  # the model cited nothing here; the checker found this passage


@dataclass(frozen=True, slots=True)
class CheckedSentence:
    text: str  # without citation markers
    citations: list[Support]
    removed: list[int] = field(default_factory=list)  # markers naming passages that were not given
    flagged: str | None = None  # it repeats passage text flagged as an instruction (the reason)

    @property
    def supported(self) -> bool:
        return self.flagged is None and any(support.supported for support in self.citations)


def split_sentences(answer: str) -> list[str]:
    """Sentences with their trailing citation markers attached."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(answer):
        pieces.append(answer[start : match.end(1) if match.group(1) else match.start()].strip())
        start = match.end()
    pieces.append(answer[start:].strip())
    return [piece for piece in pieces if piece]


def cited_numbers(sentence: str) -> list[int]:
    numbers: list[int] = []
    for match in _MARKER.finditer(sentence):
        numbers += [int(n) for n in match.group(1).split(",")]
    return list(dict.fromkeys(numbers))


def strip_markers(sentence: str) -> str:
    return re.sub(r"\s+([.!?,;:])", r"\1", _MARKER.sub("", sentence)).strip()


_NUMBER_TEXT = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"
)
_TENS_TEXT = "thirty forty fifty sixty seventy eighty ninety"
_TENS = {word: f"{tens}0" for tens, word in enumerate(_TENS_TEXT.split(), start=3)}
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_NUMBER_TEXT.split())} | _TENS


def content_words(text: str) -> set[str]:
    """Lower-cased words without stopwords; number words as digits ("six" and "6" are one word)."""
    return {_NUMBER_WORDS.get(w, w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def check_answer(
    answer: str,
    passages: Sequence[Passage],
    embed: Embed | None = None,
    policy: CitationPolicy | None = None,
    *,
    attribute_uncited: bool = True,
) -> list[CheckedSentence]:
    """Check every sentence; a sentence that is uncited, or cited only to passages that do not
    support it, is attributed to a given passage that does, if there is one."""
    policy = policy or CitationPolicy()
    by_number = {passage.number: passage for passage in passages}
    parts = {passage.number: _parts(passage) for passage in passages}
    sentences = split_sentences(answer)
    embed = embedded_once(embed) if embed is not None else None
    checked = []
    for sentence in sentences:
        plain = strip_markers(sentence)
        numbers = cited_numbers(sentence)
        given = [n for n in numbers if n in by_number]
        supports = [_support(plain, by_number[n], parts[n][0], embed, policy) for n in given]
        if attribute_uncited and not any(support.supported for support in supports):
            # Uncited, or cited to a passage that does not say it: small models often answer right
            # and cite the wrong number. A passage that does support it is named instead (inferred).
            supports = _inferred(plain, passages, parts, embed, policy) or supports
        removed = [n for n in numbers if n not in by_number]
        flagged = _repeats_flagged(plain, passages, parts, policy)
        checked.append(CheckedSentence(plain, supports, removed, flagged))
    return checked


Parts = tuple[list[tuple[int, int]], tuple[Flag, ...]]  # (readable spans, flagged units) of a passage


def embedded_once(embed: Embed) -> Embed:
    """``embed`` that embeds each text once per answer: a sentence checked against three passages,
    and a passage's sentences checked for three answer sentences, are not embedded again."""
    table: dict[str, np.ndarray] = {}

    def lookup(asked: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(asked) if t not in table]
        if missing:
            table.update(zip(missing, embed(missing), strict=True))
        return np.stack([table[t] for t in asked])

    return lookup


def _parts(passage: Passage) -> Parts:
    """What a passage says as data, and what it says as instructions. Flags are found here when
    the passage was not quarantined before (``generator.focus.quarantine``)."""
    flagged = passage.flagged or tuple(flagged_units(passage.text))
    if passage.shown:
        return list(passage.shown), flagged
    return clean_spans(passage.text, flagged), flagged


def _repeats_flagged(
    sentence: str, passages: Sequence[Passage], parts: dict[int, Parts], policy: CitationPolicy
) -> str | None:
    """The reason a flagged unit was flagged, when the sentence matches one (by the lexical
    threshold) more closely than any single readable sentence of any passage; else None."""
    words = content_words(sentence)
    if not words:
        return None
    best_clean, best_flagged, reason = 0.0, 0.0, None
    for passage in passages:
        spans, flagged = parts[passage.number]
        for a, b in spans:
            best_clean = max(best_clean, len(words & content_words(passage.text[a:b])) / len(words))
        for flag in flagged:
            share = len(words & content_words(passage.text[flag.start : flag.end])) / len(words)
            if share > best_flagged:
                best_flagged, reason = share, flag.reason
    return reason if best_flagged >= policy.min_lexical and best_flagged > best_clean else None


def _inferred(
    sentence: str,
    passages: Sequence[Passage],
    parts: dict[int, Parts],
    embed: Embed | None,
    policy: CitationPolicy,
) -> list[Support]:
    """For a sentence the model left uncited: the best passage that supports it, if any.

    Small models often answer correctly without the marker ("Guo Shoujing"); such a sentence is
    kept when a given passage supports it, and the citation says it was inferred.
    """
    candidates = [_support(sentence, p, parts[p.number][0], embed, policy) for p in passages]
    supported = [c for c in candidates if c.supported]
    if not supported:
        return []
    best = max(supported, key=lambda c: (c.lexical, c.semantic or 0.0, -c.passage))
    return [replace(best, inferred=True)]


def _support(
    sentence: str, passage: Passage, spans: list[tuple[int, int]], embed: Embed | None, policy: CitationPolicy
) -> Support:
    """Support from the readable spans of the passage (what the model was shown, flagged text never);
    spans stay offsets into its text."""
    if not spans:
        return Support(passage.number, False, 0.0, None, (0, 0))
    words = content_words(sentence)
    span_words = [content_words(passage.text[a:b]) for a, b in spans]
    lexical = len(words & set().union(*span_words)) / len(words) if words else 0.0
    overlaps = [len(words & own) / max(1, len(words)) for own in span_words]
    best = int(np.argmax(overlaps))
    semantic = None
    # The embedding decides only what the words cannot: support below the lexical threshold, or
    # the best span when no shown sentence shares a word. Most answers copy their words, and
    # embedding them anyway was most of an answer's CPU outside the model.
    undecided = lexical < policy.min_lexical or overlaps[best] == 0
    if embed is not None and sentence.strip() and undecided:
        vectors = embed([sentence, *(passage.text[a:b] for a, b in spans)])  # (1 + spans, d)
        similarities = vectors[1:] @ vectors[0]  # (spans,)
        semantic = float(similarities.max())
        if overlaps[best] == 0:
            best = int(np.argmax(similarities))
    supported = lexical >= policy.min_lexical or (semantic is not None and semantic >= policy.min_semantic)
    return Support(passage.number, supported, round(lexical, 3), semantic, spans[best])


# A decline in other words: "The passages do not mention it [2]." or, as the whole answer,
# "Citewise does not say [2]." (the 0.5B model's paraphrase of the prompt's decline). A longer
# sentence about anything else ("Citewise does not say … in logs") stays an answer.
_NOT_SAID = r"(?:do|does|did) not (?:say|mention|specify|state|answer|contain)"
_DECLINE_WORDS = re.compile(
    rf"(?:(?:the|these|those) )?(?:documents?|passages?|sources?|texts?|context) {_NOT_SAID}\b"
    rf"|(?:\w+ ){{0,2}}\w+ {_NOT_SAID}(?: (?:so|this|that|it|anything))?$"
)


def is_declined(text: str) -> bool:
    """The model said the passages do not contain the answer, in the prompt's words or its own."""
    plain = strip_markers(text).strip().lower().rstrip(".!").strip()
    return plain.startswith(NOT_IN_DOCUMENTS.lower().rstrip(".")) or bool(_DECLINE_WORDS.match(plain))
