"""SetFit contrastive fine-tuning of a sentence encoder's body (Tunstall et al., 2022).

SetFit pairs labelled sentences: same label → target cosine 1, different labels → 0; the
body learns to regress cos(u, v) onto the target (CosineSimilarityLoss, a squared error),
then a logistic-regression head is fitted on the new embeddings. Two ways to form the pairs,
on one budget — `num_iterations` (the SetFit paper's 20; setfit 1.2 defaults to None, every
unique pair oversampled): 2 · num_iterations · n pairs an epoch:

- `pairs="setfit"` (default) is setfit 1.2's own generation (`sampler.ContrastiveDataset`
  with num_iterations set): every unique pair i ≤ j, self pairs included, in a shuffled
  order, split into positives and negatives, each cycled to num_iterations · n, alternated
  positive, negative; that list, built once, is drawn in random batches of `batch_size`
  pairs each epoch (the sentence-transformers trainer's random sampler), both sentences of
  each pair encoded. Only the first shuffle differs: seeded by `seed`, a fixed 42 in setfit.
- `pairs="in-batch"` (ours) spends the same budget differently: the same number of steps,
  each on a class-balanced batch of 2 · `batch_size` distinct sentences (so the same
  sentence encodings; fewer when the training set holds fewer sentences), every pair among
  them scored — the positive (distinct same-label pairs: self pairs carry no
  gradient) and negative halves of the squared error averaged separately, the 50/50 weight
  SetFit's balanced list gives them. Many more pairs a step for the same forward passes.
The optimiser is setfit's (through the transformers Trainer): AdamW at 2e-5 with weight decay
0.01 on every parameter but biases and LayerNorm weights, gradients clipped to norm 1, a
linear warm-up over the first ⌈10%⌉ of the steps from lr 0, then linear decay to zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from headstart.exceptions import DataError

PAIRINGS = ("setfit", "in-batch")


@dataclass
class TuneSettings:
    """Everything that determines a fine-tuned body, recorded beside its weights."""

    pairs: str = "setfit"  # or "in-batch"
    num_iterations: int = 20  # SetFit's budget: 2 · num_iterations · n pairs an epoch
    epochs: int = 1
    batch_size: int = 16  # pairs a step ("in-batch": twice as many sentences a step)
    per_class: int = 4  # "in-batch": sentences of one class side by side in a batch
    lr: float = 2e-5
    weight_decay: float = 0.01  # setfit's l2_weight; not on biases and LayerNorm weights
    max_grad_norm: float = 1.0  # the transformers Trainer's clipping
    warmup: float = 0.1
    max_length: int | None = None  # word pieces; None keeps the model's own limit
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.pairs not in PAIRINGS:
            raise DataError(f"pairs must be one of {', '.join(PAIRINGS)}, not {self.pairs!r}")
        for name in ("num_iterations", "epochs", "batch_size", "per_class"):
            if getattr(self, name) < 1:
                raise DataError(f"{name} must be at least 1, got {getattr(self, name)}")


def steps_per_epoch(n_texts: int, settings: TuneSettings) -> int:
    """Optimiser steps an epoch: SetFit's 2 · num_iterations · n pairs in `batch_size`s."""
    return -(-2 * settings.num_iterations * n_texts // settings.batch_size)


def setfit_pairs(labels: np.ndarray, num_iterations: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """SetFit's pair list: (P, 2) row pairs and their (P,) targets, positives and negatives
    alternating, each kind cycled to num_iterations · n from the shuffled unique pairs."""
    n = len(labels)
    unique = np.stack(np.triu_indices(n, 0), axis=1)[rng.permutation(n * (n + 1) // 2)]
    same = labels[unique[:, 0]] == labels[unique[:, 1]]
    count = num_iterations * n
    positive = unique[same][np.arange(count) % same.sum()]
    negative = unique[~same][np.arange(count) % (~same).sum()]
    pairs = np.stack([positive, negative], axis=1).reshape(-1, 2)  # pos₀, neg₀, pos₁, …
    return pairs, np.tile([1.0, 0.0], count)


def cosine_pair_loss(u: torch.Tensor, v: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """SetFit's CosineSimilarityLoss: the mean of (cos(u, v) − target)² over the pairs."""
    cosine = torch.nn.functional.cosine_similarity(u, v, dim=1)
    return (cosine - targets.to(cosine.dtype)).pow(2).mean()


def pair_loss(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """In-batch: half the mean of (cos − 1)² over distinct same-label pairs i < j plus half
    the mean of cos² over different-label pairs."""
    unit = torch.nn.functional.normalize(embeddings, dim=1)
    cosine = unit @ unit.T
    upper = torch.triu(torch.ones_like(cosine, dtype=torch.bool), diagonal=1)
    same = (labels[:, None] == labels[None, :]) & upper
    different = (labels[:, None] != labels[None, :]) & upper
    halves = [(cosine[same] - 1).pow(2).mean()] if same.any() else []
    if different.any():
        halves.append(cosine[different].pow(2).mean())
    if not halves:  # one sentence: no pair, nothing to learn
        return embeddings.sum() * 0.0
    return torch.stack(halves).mean()


def balanced_batches(labels: np.ndarray, settings: TuneSettings, rng) -> list[np.ndarray]:
    """One pass over the texts: each class shuffled and cut into runs of `per_class`, the
    runs shuffled and packed into batches of about 2 · `batch_size` sentences."""
    size_wanted = 2 * settings.batch_size
    runs = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        runs.extend(np.array_split(members, max(1, len(members) // settings.per_class)))
    batches, current, size = [], [], 0
    for index in rng.permutation(len(runs)):
        current.append(runs[index])
        size += len(runs[index])
        if size >= size_wanted:
            batches.append(np.concatenate(current))
            current, size = [], 0
    if current:
        if size < 2 and batches:  # a lone sentence has no pair: it joins the last batch
            batches[-1] = np.concatenate([batches[-1], *current])
        else:
            batches.append(np.concatenate(current))
    return batches


def _warmup_then_decay(step: int, total: int, warmup: int) -> float:
    """The transformers linear schedule: lr × step / warmup, then down to 0 at `total`."""
    if step < warmup:
        return step / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _optimiser(model: Any, settings: TuneSettings) -> torch.optim.Optimizer:
    """AdamW with weight decay on every parameter but biases and LayerNorm weights."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            plain = name == "bias" or isinstance(module, torch.nn.LayerNorm)
            (no_decay if plain else decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=settings.lr)


def _plan(labels: np.ndarray, settings: TuneSettings, rng) -> list[tuple[np.ndarray, Any]]:
    """Every step's (rows to encode, what the loss compares) for the whole run."""
    per_epoch = steps_per_epoch(len(labels), settings)
    steps = []
    if settings.pairs == "setfit":
        listed, listed_targets = setfit_pairs(labels, settings.num_iterations, rng)
    for _ in range(settings.epochs):
        if settings.pairs == "setfit":
            pairs, targets = listed, listed_targets
            order = rng.permutation(len(pairs))  # the trainer's random sampler
            pairs, targets = pairs[order], targets[order]
            for start in range(0, len(pairs), settings.batch_size):
                chunk = pairs[start : start + settings.batch_size]
                steps.append((chunk.T.reshape(-1), targets[start : start + settings.batch_size]))
            continue
        batches: list[np.ndarray] = []
        while len(batches) < per_epoch:
            batches.extend(balanced_batches(labels, settings, rng))
        steps.extend((rows, None) for rows in batches[:per_epoch])
    return steps


def tune_sentence_body(
    model: Any,
    texts: list[str],
    labels: np.ndarray,
    settings: TuneSettings,
    progress=None,
) -> dict[str, Any]:
    """Fine-tune a sentence-transformers `model` in place on labelled `texts`; the history
    (mean loss an epoch, steps, texts and sentence encodings)."""
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
    optimiser = _optimiser(model, settings)
    plan = _plan(labels, settings, rng)
    total = len(plan)
    warmup = math.ceil(settings.warmup * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: _warmup_then_decay(s, total, warmup)
    )
    model.train()
    history: dict[str, Any] = {"loss": [], "steps": total, "texts": len(texts), "encoded": 0}
    per_epoch = total // settings.epochs
    values = []
    for step, (rows, targets) in enumerate(plan):
        features = model.tokenize([texts[i] for i in rows])
        features = {
            k: v.to(settings.device) if torch.is_tensor(v) else v for k, v in features.items()
        }
        embeddings = model(features)["sentence_embedding"]
        if targets is None:
            loss = pair_loss(embeddings, torch.as_tensor(labels[rows], device=settings.device))
        else:
            half = len(rows) // 2  # first sentences, then their partners
            target = torch.as_tensor(targets, device=settings.device)
            loss = cosine_pair_loss(embeddings[:half], embeddings[half:], target)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
        optimiser.step()
        schedule.step()
        values.append(float(loss.detach()))
        history["encoded"] += len(rows)
        if progress:
            progress(1)
        if (step + 1) % per_epoch == 0:
            history["loss"].append(float(np.mean(values)))
            values = []
    model.eval()
    return history
