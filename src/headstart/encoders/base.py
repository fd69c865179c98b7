"""The `Encoder` contract: a card, a picklable `preprocessor`, and a batched `encode_batch`.

`preprocessor(item)` does the per-item CPU work (decode, resize); it holds no model, so it can
run in worker threads or worker processes, and raises `ItemError` for an unusable item.
`encode_batch` runs the model on a stack of prepared items.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from headstart.cards import EncoderCard


class Encoder(ABC):
    """Maps items (images or texts) to float32 vectors of dimension `card.output_dim`."""

    card: EncoderCard
    preprocessor: Callable[[Any], Any]  # picklable, model-free, thread-safe
    recipe: dict[str, Any] | None = None  # set by create_encoder: name + options

    def prepare(self, item: Any) -> Any:
        """Per-item preprocessing; raises `ItemError` for an unusable item."""
        return self.preprocessor(item)

    @abstractmethod
    def encode_batch(self, prepared: Sequence[Any]) -> np.ndarray:
        """(n,) prepared items → (n, output_dim) float32."""

    def encode(self, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Prepare and encode `items` in batches, in this thread (no store, no skipping)."""
        outputs = [np.empty((0, self.card.output_dim), np.float32)]
        for start in range(0, len(items), batch_size):
            batch = [self.prepare(item) for item in items[start : start + batch_size]]
            outputs.append(self.encode_batch(batch))
        return np.concatenate(outputs)

    @property
    def name(self) -> str:
        return self.card.name
