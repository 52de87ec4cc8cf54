"""An evidence model Citewise trains itself: a cross-encoder that scores how well a text answers a
question (issue 17, lever 3). Built on a packaged BERT-style encoder (all-MiniLM-L6-v2); the
caller passes the encoder's folder, since the generator package must not import the retriever."""

from __future__ import annotations

from generator.evidence.model import EvidenceScorer, is_checkpoint
from generator.evidence.train import EvidencePair, TrainOptions, TrainReport, train

__all__ = ["EvidencePair", "EvidenceScorer", "TrainOptions", "TrainReport", "is_checkpoint", "train"]
