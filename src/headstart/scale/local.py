"""The local engine: threads (or processes) in this process — `embed_dataset` as it is."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headstart.datasets import Dataset
from headstart.embedding import EmbedResult, embed_dataset
from headstart.encoders import Encoder
from headstart.scale.engines import ENGINES
from headstart.workflow.models import SavedModel
from headstart.workflow.slides import SlideJob, SlideRecipe


@ENGINES.register("local", "threads in this process (the default)")
class LocalEngine:
    """Embeds and predicts here; options are those of `embed_dataset`."""

    def __init__(
        self,
        batch_size: int | None = None,
        num_workers: int | None = None,
        num_threads: int | None = None,
        decode: str = "threads",
    ) -> None:
        self.options = {
            "batch_size": batch_size,
            "num_workers": num_workers,
            "num_threads": num_threads,
            "decode": decode,
        }

    def embed(
        self, dataset: Dataset, encoder: Encoder, out: str | Path, **common: Any
    ) -> EmbedResult:
        return embed_dataset(dataset, encoder, out, **common, **self.options)

    def predict(
        self, model_dir: str | Path, vectors: np.ndarray, ids: Sequence[str], top_k: int
    ) -> list[dict[str, Any]]:
        return SavedModel(model_dir).rows(vectors, ids, top_k)

    def slides(
        self,
        jobs: Sequence[SlideJob],
        encoder: Encoder,
        out: Path,
        recipe: SlideRecipe,
        progress: bool,
    ) -> Iterator[dict[str, Any]]:
        """Each slide's record, one slide after another (the encoder's threads per slide)."""
        options = {k: v for k, v in self.options.items() if v is not None}
        for job in jobs:
            yield job.run(encoder, out, recipe, progress, **options)
