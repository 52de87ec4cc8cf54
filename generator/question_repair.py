"""Repair spoken self-corrections in a question before it is searched and answered.

Questions typed by dictation or in a hurry correct themselves: "Who is the prime minister no wait
President of Egypt?", "When does no what is a spark?". Small models answer the part that was
taken back, and retrieval looks for both. Each editing phrase ("no wait", "sorry", "I mean", "or
rather", "uh") splits the question into what was said before and the repair after it:

* the repair starts a new question (a question word or auxiliary): the question restarts there;
* the repair's first word was said before ("the Palais Garnier no the Warsaw ... edifice"): the
  question resumes from that earlier word;
* otherwise the repair replaces the run of content words just before the editing phrase
  ("prime minister" -> "President"), or, when the repair finishes the question, as many of them
  as it has words less one ("travel I mean expense requests?" -> "expense requests?").

A bare "no", "or", "wait" or "actually" is read as an editing phrase only where it cannot be an
ordinary word ("there are no results" is left alone), so plain questions pass through unchanged.
"""

from __future__ import annotations

import re

from generator.citations import STOPWORDS


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_FILLERS = r"uh+|um+|umm|er+|err+m?|erm|ah|oh|hmm+|jeez"
_EDITS = (
    r"no wait|wait no|no no|no sorry|sorry|i mean|i meant|or rather|rather|or no|or actually|"
    r"actually|or really|make that|scratch that|change that to|no not that|instead|i guess|"
    r"let ' s say|let's say|pardon me|oops|correction|different question|wait|no|or|"
    r"(?:first |just )?tell me"
)
_INTERREGNUM = re.compile(rf"(?<!\S)(?:(?:{_FILLERS}|{_EDITS})(?:\s*,\s*|\s+|(?=[?.!]|$)))+", re.IGNORECASE)
_QUESTION_WORDS = _words("what when where which who whom whose why how name")
_RESTART = _QUESTION_WORDS | _words("is are was were do does did can could should would will")
# Words that do not carry the question's subject: a pause after them takes nothing back.
_FUNCTION = STOPWORDS | _words("many much few several some any all each every other one")
# Words after which "no" is an ordinary determiner ("there are no results"), and words that make a
# bare "or"/"wait"/"actually" ordinary too.
_NO_IS_ORDINARY_AFTER = _words(
    "there is are was were has have had with of by for in at to and or but if do does did can could "
    "be been being get gets got"
)
_NO_IS_ORDINARY_BEFORE = _words("longer more less one matter such doubt")
_AMBIGUOUS = frozenset({"no", "or", "wait", "actually", "instead", "rather", "tell me"})


def repair_question(question: str) -> str:
    """The question with self-corrections applied; unchanged when it has none."""
    text = " ".join(question.split())
    for _ in range(8):  # one correction per pass; real questions have one or two
        repaired = _repair_first(text)
        if repaired == text:
            break
        text = repaired
    return text


def _repair_first(text: str) -> str:
    for match in _INTERREGNUM.finditer(text):
        before, after = text[: match.start()].rstrip(" ,"), text[match.end() :].lstrip(" ,")
        if not _is_editing(match.group(0), before, after):
            continue
        left, right = before.split(), after.split()
        if not right or all(not w.isalnum() for w in right):
            return before + after if left else text  # a trailing filler: drop it, keep the "?"
        if not left:
            return after
        first = right[0].lower()
        lowered = [w.lower() for w in left]
        if first in lowered:  # resumes from a word said before
            start = len(lowered) - 1 - lowered[::-1].index(first)
            return " ".join(left[:start] + right)
        if first in _RESTART and not _only_fillers(match.group(0)):
            return after
        if _only_fillers(match.group(0)) and not _content(left[-1]):
            return " ".join(left + right)  # "How many uh people": a pause, nothing taken back
        keep = len(left)
        while keep > 1 and _content(left[keep - 1]):
            keep -= 1
        cores = [word.strip("?.!,") for word in right]
        repair = next((i for i, core in enumerate(cores) if not core or not _content(core)), len(cores))
        if not any(cores[repair:]):
            # The repair runs to the end ("travel I mean expense requests?"): it finishes the
            # question, so it replaces fewer words than it has, not the whole run before it.
            keep = max(keep, len(left) - max(1, repair - 1))
        if keep == len(left):  # nothing to replace: the editing phrase was only a pause
            return " ".join(left + right)
        return " ".join(left[:keep] + right)
    return text


def _is_editing(phrase: str, before: str, after: str) -> bool:
    words = phrase.lower().replace(",", " ").split()
    if " ".join(words) not in _AMBIGUOUS:
        return True
    previous = before.split()[-1].lower() if before.split() else ""
    following = after.split()[0].lower() if after.split() else ""
    if words == ["no"]:
        ordinary = previous in _NO_IS_ORDINARY_AFTER or following in _NO_IS_ORDINARY_BEFORE
        return bool(previous) and not ordinary
    # "or", "wait", "actually", ... are ordinary unless a new question follows them.
    return following in _QUESTION_WORDS


def _only_fillers(phrase: str) -> bool:
    return all(re.fullmatch(_FILLERS, w, re.IGNORECASE) for w in phrase.replace(",", " ").split())


def _content(word: str) -> bool:
    return word.lower() not in _FUNCTION and word != ","  # "'", "s" and "-" glue a name together
