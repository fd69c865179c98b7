"""`ZeroShot`: classify by cosine similarity to class text embeddings (CLIP-style).

The class embeddings come from a joint image–text (or text–text) space: class names in prompt
templates, or class descriptions, embedded by the same encoder as the items (see
`headstart.prompts`). Logits are cos(x, t_k) / τ; τ = 0.01 is CLIP's logit scale of 100.
Labels index the rows of `class_embeddings`: label k is the class whose text is row k.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from headstart.heads.base import Head
from headstart.heads.prototype import l2_normalize
from headstart.heads.registry import register_head
from headstart.heads.tags import HeadTags


def text_rows(
    class_embeddings: np.ndarray | None, classes: np.ndarray, dim: int, normalize: bool = True
) -> np.ndarray:
    """The (L2-normalised) text embedding of each class in `classes` (integer labels)."""
    if class_embeddings is None:
        raise ValueError("this head needs class_embeddings: one text embedding per class")
    table = np.asarray(class_embeddings, dtype=np.float64)
    if table.ndim != 2 or not np.isfinite(table).all():
        raise ValueError(f"class_embeddings must be a finite 2-D array, got shape {table.shape}")
    if table.shape[1] != dim:
        raise ValueError(
            f"class_embeddings have {table.shape[1]} dimensions but the features have {dim}: "
            "embed the texts with the encoder of the store"
        )
    if not np.issubdtype(classes.dtype, np.integer) or classes.min() < 0:
        raise ValueError(
            f"labels must be integer class indices into class_embeddings, got {classes[:5]}"
        )
    if classes.max() >= len(table):
        raise ValueError(
            f"label {classes.max()} has no text: class_embeddings has {len(table)} rows"
        )
    return l2_normalize(table[classes]) if normalize else table[classes]


class ZeroShot(Head):
    """Zero-shot classifier: nearest class text by cosine similarity.

    `fit` uses the labels only for the list of classes (and the features for their
    dimension): nothing is learned from the items, so any support set gives the same model.
    `normalize_text=False` keeps the class vectors as given: for description embeddings
    (mean of normalised descriptors), x̂·t_k is then the mean cosine over descriptors.
    """

    def __headstart_tags__(self) -> HeadTags:
        return replace(
            super().__headstart_tags__(), family="text", label_free=True, text_conditioned=True
        )

    def __init__(
        self,
        class_embeddings: np.ndarray | None = None,
        temperature: float = 0.01,
        normalize_text: bool = True,
    ) -> None:
        self.class_embeddings = class_embeddings
        self.temperature = temperature
        self.normalize_text = normalize_text

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        self.text_ = text_rows(
            self.class_embeddings, self.classes_, X.shape[1], self.normalize_text
        )

    def _scores(self, X: np.ndarray) -> np.ndarray:
        cosines = l2_normalize(X) @ self.text_.T.astype(X.dtype)
        return cosines.astype(np.float64) / self.temperature


register_head("zero-shot", ZeroShot)
