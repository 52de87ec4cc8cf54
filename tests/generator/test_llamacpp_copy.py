"""The copy constraint as llama.cpp applies it (a logits processor), on a small fake vocabulary:
which tokens it masks, how the citation is written, and that other prompts decode freely."""

from __future__ import annotations

import numpy as np

from generator.base import Message
from generator.llamacpp_copy import CopyProcessor, token_bytes
from generator.prompt import NOT_IN_DOCUMENTS, Passage, build_messages

END = "<|im_end|>"
VOCAB = [
    END, " [", "1", "2", "]", "The", " documents", " do", " not", " say", ".", "Backups", " run",
    " at", " 2", " a", ".m", "kept", " for", " 35", " days", "35", "Days", " fish", " ", "b", "k", "ept",
]  # fmt: skip


class FakeLlama:
    """What the processor uses of ``llama_cpp.Llama``; tokenises by longest match."""

    def n_vocab(self) -> int:
        return len(VOCAB)

    def token_eos(self) -> int:
        return 0

    def detokenize(self, tokens: list[int], special: bool = False) -> bytes:
        return b"".join(b"" if (t == 0 and not special) else VOCAB[t].encode() for t in tokens)

    def tokenize(self, text: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        decoded, tokens = text.decode(), []
        while decoded:
            choices = [i for i, piece in enumerate(VOCAB) if decoded.startswith(piece) and (special or i)]
            best = max(choices, key=lambda i: len(VOCAB[i]))
            tokens.append(best)
            decoded = decoded[len(VOCAB[best]) :]
        return tokens


def messages() -> list[Message]:
    passages = [Passage(1, "Backups run at 2 a.m."), Passage(2, "Backups kept for 35 days.")]
    return build_messages("How long are backups kept?", passages)


def decode(processor: CopyProcessor, wishes: list[str], prompt: int = 7) -> str:
    """Greedy decoding where the model prefers the wished tokens, in order, then end of turn."""
    ids = list(range(prompt))  # stands for the prompt
    llm = FakeLlama()
    wanted = [VOCAB.index(w) for w in wishes]
    for _ in range(12):
        scores = np.zeros(len(VOCAB), dtype=np.float32)
        if wanted:
            scores[wanted[0]] = 10.0
        scores[0] = 5.0  # end of turn is the model's second choice
        masked = processor(np.array(ids), scores)
        token = int(np.argmax(masked))
        if wanted and token == wanted[0]:
            wanted.pop(0)
        if token == 0:
            break
        ids.append(token)
    text = llm.detokenize(ids[prompt:])
    return text.decode() + processor.finish(text.decode())


def processor(for_messages: list[Message] | None = None) -> CopyProcessor:
    llm = FakeLlama()
    return CopyProcessor(llm, token_bytes(llm), for_messages or messages())


def test_a_copied_span_gets_the_citation_of_its_passage() -> None:
    assert decode(processor(), ["35", " days", " ["]) == "35 days [2]"


def test_ending_with_end_of_turn_still_cites_the_passage() -> None:
    assert decode(processor(), ["35", " days"]) == "35 days [2]"


def test_words_from_outside_the_passages_are_masked() -> None:
    # " fish" is never allowed; the model's next choice, end of turn, ends the span
    assert decode(processor(), ["35", " fish"]) == "35 [2]"


def test_a_span_ends_only_at_a_word_boundary() -> None:
    proc = processor()
    allowed = proc.allowed([VOCAB.index("k")])  # "k" of "kept": mid-word, no end offered
    assert allowed == {VOCAB.index("ept")}


def test_copying_ignores_letter_case() -> None:
    assert decode(processor(), ["35", " days"]) == decode(processor(), ["35", " days"])
    assert decode(processor(), ["Days"]).startswith("Days")  # "days" in the passage, capitalised


def test_the_decline_is_allowed_whole_and_then_only_the_end() -> None:
    wishes = ["The", " documents", " do", " not", " say", ".", " ["]
    assert decode(processor(), wishes) == NOT_IN_DOCUMENTS


def test_prompts_without_passages_are_not_constrained() -> None:
    rewrite = [Message("system", "Rewrite the question."), Message("user", "user: and then?")]
    assert not processor(rewrite).active
    assert processor().active


def test_closing_punctuation_is_left_out_so_the_citation_precedes_it() -> None:
    # the passage reads "35 days." and the model would copy the full stop: it may not
    assert decode(processor(), ["35", " days", "."]) == "35 days [2]"
