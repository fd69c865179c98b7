"""SetFit-style contrastive fine-tuning of a sentence encoder's body (Tunstall et al., 2022),
with every pair of a batch.

SetFit pairs labelled sentences: same label → target cosine 1, different labels → 0; the
body learns to regress cos(u, v) onto the target (CosineSimilarityLoss, a squared error),
then a logistic-regression head is fitted on the new embeddings. setfit 1.x builds every
unique pair (self pairs included), oversamples the rarer kind until positives and negatives
are equally many, and encodes both sentences of each pair — two forward passes a pair.
Ours keeps the objective and the 50/50 balance but draws class-balanced batches of distinct
sentences and scores all b(b + 1)/2 pairs among them: each sentence is encoded once a step,
and the positive and negative halves of the squared error are averaged separately (what
balanced oversampling weighs them to). The optimiser is setfit's: AdamW at 2e-5, linear
warm-up over the first 10% of the steps, then linear decay to zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from headstart.exceptions import DataError


@dataclass
class TuneSettings:
    """Everything that determines a fine-tuned body, recorded beside its weights."""

    epochs: int = 10
    batch_size: int = 32
    per_class: int = 4  # sentences of one class side by side in a batch
    lr: float = 2e-5
    warmup: float = 0.1
    max_length: int | None = None  # word pieces; None keeps the model's own limit
    seed: int = 0
    device: str = "cpu"


def pair_loss(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Half the mean squared error of cos − 1 over same-label pairs plus half that of cos − 0
    over different-label pairs, over the pairs i ≤ j of the batch."""
    unit = torch.nn.functional.normalize(embeddings, dim=1)
    cosine = unit @ unit.T
    upper = torch.triu(torch.ones_like(cosine, dtype=torch.bool))
    same = (labels[:, None] == labels[None, :]) & upper
    different = (labels[:, None] != labels[None, :]) & upper
    positive = (cosine[same] - 1).pow(2).mean()
    if not different.any():
        return positive
    return (positive + cosine[different].pow(2).mean()) / 2


def balanced_batches(labels: np.ndarray, settings: TuneSettings, rng) -> list[np.ndarray]:
    """One epoch: each class shuffled and cut into runs of `per_class`, the runs shuffled and
    packed into batches of about `batch_size` (so same-class pairs occur in every batch)."""
    runs = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        runs.extend(np.array_split(members, max(1, len(members) // settings.per_class)))
    batches, current, size = [], [], 0
    for index in rng.permutation(len(runs)):
        current.append(runs[index])
        size += len(runs[index])
        if size >= settings.batch_size:
            batches.append(np.concatenate(current))
            current, size = [], 0
    if current:
        batches.append(np.concatenate(current))
    return batches


def _warmup_then_decay(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / (warmup + 1)
    return max(0.0, (total - step) / max(1, total - warmup))


def tune_sentence_body(
    model: Any,
    texts: list[str],
    labels: np.ndarray,
    settings: TuneSettings,
    progress=None,
) -> dict[str, Any]:
    """Fine-tune a sentence-transformers `model` in place on labelled `texts`; the history."""
    labels = np.asarray(labels)
    if len(texts) != len(labels):
        raise DataError(f"{len(texts)} texts for {len(labels)} labels")
    if len(np.unique(labels)) < 2:
        raise DataError("fine-tuning needs labelled texts of at least 2 classes")
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    if settings.max_length:
        model.max_seq_length = settings.max_length
    model.to(settings.device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr)
    epochs = [balanced_batches(labels, settings, rng) for _ in range(settings.epochs)]
    total = sum(len(e) for e in epochs)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: _warmup_then_decay(s, total, int(settings.warmup * total))
    )
    model.train()
    history: dict[str, Any] = {"loss": [], "steps": total, "texts": len(texts)}
    for batches in epochs:
        values = []
        for rows in batches:
            features = model.tokenize([texts[i] for i in rows])
            features = {
                k: v.to(settings.device) if torch.is_tensor(v) else v for k, v in features.items()
            }
            embeddings = model(features)["sentence_embedding"]
            target = torch.as_tensor(labels[rows], device=settings.device)
            loss = pair_loss(embeddings, target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            values.append(float(loss.detach()))
        history["loss"].append(float(np.mean(values)))
        if progress:
            progress(1)
    model.eval()
    return history
