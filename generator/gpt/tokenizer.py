"""A byte-level BPE vocabulary trained on the team's own documents (``tokenizers``, fully offline).

Byte-level means every string can be encoded, whatever its script or symbols: unseen text falls
back to byte tokens instead of an unknown token. A few special tokens mark the chat turns, so the
fine-tuned model reads the same prompt layout as every other backend and stops at ``<|end|>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from generator.base import Message

TOKENIZER_FILE = "tokenizer.json"
END_OF_TEXT = "<|endoftext|>"  # after each passage in pretraining
END_OF_TURN = "<|end|>"
ROLE_TOKENS = {"system": "<|system|>", "user": "<|user|>", "assistant": "<|assistant|>"}
SPECIAL_TOKENS = (END_OF_TEXT, END_OF_TURN, *ROLE_TOKENS.values())


class CorpusTokenizer:
    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tokenizer = tokenizer
        missing = [t for t in SPECIAL_TOKENS if tokenizer.token_to_id(t) is None]
        if missing:
            raise ValueError(f"the tokenizer lacks the special tokens {missing}")
        # Text never produces a special token: a document or a question that contains "<|end|>"
        # is read as those characters, so it cannot end a turn or fake a role.
        tokenizer.encode_special_tokens = True
        self.end_of_text = tokenizer.token_to_id(END_OF_TEXT)
        self.end_of_turn = tokenizer.token_to_id(END_OF_TURN)
        self.roles = {role: tokenizer.token_to_id(token) for role, token in ROLE_TOKENS.items()}

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def token_text(self, token_id: int) -> str:
        """The token as stored: byte-level characters, one per byte (see ``copying.byte_decoder``)."""
        return self._tokenizer.id_to_token(token_id)

    def decode(self, ids: Sequence[int]) -> str:
        return self._tokenizer.decode(list(ids), skip_special_tokens=True)

    def chat_ids(self, messages: Sequence[Message], *, reply: str | None = None) -> tuple[list[int], int]:
        """Token ids of a chat and where the assistant's reply starts: each turn is its role token,
        its text and ``<|end|>``; then the assistant's role token, and ``reply`` + ``<|end|>`` when
        given (for training, where only the reply's tokens are learned)."""
        ids: list[int] = []
        for message in messages:
            ids += [self.roles[message.role], *self.encode(message.content), self.end_of_turn]
        ids.append(self.roles["assistant"])
        reply_start = len(ids)
        if reply is not None:
            ids += [*self.encode(reply), self.end_of_turn]
        return ids, reply_start

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._tokenizer.save(str(directory / TOKENIZER_FILE))

    @classmethod
    def load(cls, directory: Path) -> CorpusTokenizer:
        return cls(Tokenizer.from_file(str(directory / TOKENIZER_FILE)))


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2) -> CorpusTokenizer:
    """Learn merges from ``texts``; the vocabulary holds the 256 bytes, the special tokens and up to
    ``vocab_size`` tokens in all."""
    if vocab_size < 256 + len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS)} (bytes + special tokens)")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return CorpusTokenizer(tokenizer)
