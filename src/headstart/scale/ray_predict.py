"""Batch prediction with Ray Data: vectors flow through `map_batches` over actors that each
load the saved model once; rows come back in input order, as `SavedModel.rows` gives them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headstart.scale.engines import RaySettings, start_ray
from headstart.workflow.models import SavedModel


class PredictActor:
    """Lives in a Ray worker: the model read once, then batches of vectors → rows (JSON)."""

    def __init__(self, model_dir: str, top_k: int) -> None:
        self.model = SavedModel(model_dir)
        self.top_k = top_k

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = self.model.rows(np.stack(batch["vector"]), list(batch["id"]), self.top_k)
        return {"row": np.array([json.dumps(row) for row in rows])}


def predict_with_ray(
    model_dir: str | Path,
    vectors: np.ndarray,
    ids: Sequence[str],
    top_k: int,
    settings: RaySettings,
) -> list[dict[str, Any]]:
    """`SavedModel(model_dir).rows(vectors, ids, top_k)`, computed by Ray actors."""
    SavedModel(model_dir).check_dim(vectors)  # fail here, not inside a worker
    ray = start_ray(settings)
    items = [{"id": i, "vector": v} for i, v in zip(ids, vectors.astype(np.float32), strict=True)]
    rows = ray.data.from_items(items).map_batches(
        PredictActor,
        fn_constructor_kwargs={"model_dir": str(Path(model_dir).resolve()), "top_k": top_k},
        batch_size=max(settings.batch_size, 256),
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=settings.concurrency),
    )
    return [json.loads(row) for batch in rows.iter_batches(batch_size=None) for row in batch["row"]]
