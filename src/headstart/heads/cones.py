"""`ConES` in its classification form: one concept embedding per class, learned directly in the
text-embedding (output) space from the few labelled items, starting from the class's text
embedding — the encoder is skipped altogether (Yi et al. 2023, "ConES: Concept Embedding
Search"; no official code). Items are classified by cosine to the concepts, as zero-shot does
with the class texts, which are where training starts. Trained with CoOp's schedule
(`prompt_schedule`) so it compares with the prompt heads on equal terms. A variant by nature:
the paper optimises concepts for detection, segmentation and generation; for classification
this is a zero-shot-initialised cosine classifier, and a class never trained keeps its text.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from headstart.heads.base import Head
from headstart.heads.prompt_schedule import epochs_for_shots, fit_class_vectors
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags
from headstart.heads.zero_shot import text_rows


class ConES(Head):
    """ConES: class concept embeddings learned in the text space from the class texts."""

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="prompt", text_conditioned=True)

    def __init__(
        self,
        class_embeddings: np.ndarray | None = None,
        epochs: int | None = None,
        lr: float = 0.002,
        batch_size: int = 32,
        temperature: float = 0.01,
        random_state: int = 0,
    ) -> None:
        self.class_embeddings = class_embeddings
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.temperature = temperature
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.batch_size < 1 or self.lr <= 0 or self.temperature <= 0:
            raise ValueError("batch_size, lr and temperature must be positive")
        start = text_rows(self.class_embeddings, self.classes_, X.shape[1])
        torch.manual_seed(self.random_state)
        concepts = nn.Parameter(torch.as_tensor(start, dtype=torch.float32))
        epochs = self.epochs or epochs_for_shots(int(np.bincount(y).min()))
        fit_class_vectors(
            [concepts],
            lambda: nn.functional.normalize(concepts, dim=-1),
            X,
            y,
            epochs,
            self.lr,
            self.batch_size,
            self.temperature,
            self.random_state,
        )
        self.concepts_ = nn.functional.normalize(concepts.detach(), dim=-1).numpy()
        self.epochs_ = epochs

    def _scores(self, X: np.ndarray) -> np.ndarray:
        items = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        return (items @ self.concepts_.T.astype(X.dtype)).astype(np.float64) / self.temperature


register_head(
    "cones",
    ConES,
    variant="the classification form only: class vectors in the output space, initialised from "
    "the class texts, trained with CoOp's schedule (the paper has no classification recipe)",
)
