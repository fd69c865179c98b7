"""`MILClassifier`: a bag classifier on instance embeddings, trained many bags per step.

Instances are standardised with training statistics, embedded by a registered instance
encoder (Linear + ReLU by default; a small CNN for images), pooled by a registered aggregator
and classified (Linear). Training packs a batch of bags into one
instance matrix (no padding), so one optimizer step sees `batch_size` bags (`batch_size=1` is
the classic one-bag-per-step loop). Early stopping watches the loss on a stratified validation
split of the training bags; the best epoch's weights are kept. Saved as JSON + safetensors.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, save_file
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedShuffleSplit
from torch import nn

from headstart.exceptions import DataError
from headstart.mil.acmil import branch_diversity
from headstart.mil.aggregators import AGGREGATORS
from headstart.mil.bags import Bags
from headstart.mil.instance_encoders import INSTANCE_ENCODERS
from headstart.mil.regularizers import create_regularizer


class MILNet(nn.Module):
    """Instance embedding → aggregator → linear classifier."""

    def __init__(
        self,
        dim: int,
        hidden: int,
        n_classes: int,
        aggregator: str,
        attention_dim: int,
        dropout: float,
        encoder: str = "mlp",
    ) -> None:
        super().__init__()
        self.embed = INSTANCE_ENCODERS.create(encoder, dim=dim, hidden=hidden, dropout=dropout)
        self.pool = AGGREGATORS.create(aggregator, dim=hidden, attention_dim=attention_dim)
        self.head = nn.Linear(hidden, n_classes)
        branches = getattr(self.pool, "branches", 0)  # ACMIL: one classifier per branch
        self.branch_heads = nn.ModuleList(nn.Linear(hidden, n_classes) for _ in range(branches))

    def forward(self, x: torch.Tensor, segments: torch.Tensor, n: int, hidden=None):
        """Packed bags → bag logits (B, K), attention (N,) or None, its logits, bag embeddings."""
        h = self.embed(x)
        pooled, attention, attention_logits = self.pool(h, segments, n, hidden)
        return self.head(pooled), attention, attention_logits, pooled


class MILClassifier(ClassifierMixin, BaseEstimator):
    """Multiple-instance classifier: `fit(bags)`, `predict_proba(bags)`, `instance_scores`.

    `aggregator`: a registered name (mean, max, attention, gated, ...); `encoder`: the
    registered instance encoder (mlp, lenet); `regularizers`: names
    of registered plug-ins ("aem", "aem:0.05"); `batch_size` bags per step; `epochs` at
    most, stopping after `patience` epochs without a lower validation loss
    (`validation_fraction` of the training bags, stratified; 0 disables early stopping).
    """

    def __init__(
        self,
        aggregator: str = "attention",
        hidden: int = 128,
        attention_dim: int = 64,
        dropout: float = 0.0,
        lr: float = 5e-4,
        weight_decay: float = 1e-4,
        epochs: int = 100,
        batch_size: int = 16,
        patience: int = 10,
        validation_fraction: float = 0.1,
        standardize: bool = True,
        regularizers: tuple[str, ...] = (),
        random_state: int = 0,
        device: str = "cpu",
        encoder: str = "mlp",
    ) -> None:
        self.aggregator = aggregator
        self.hidden = hidden
        self.attention_dim = attention_dim
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.standardize = standardize
        self.regularizers = regularizers
        self.random_state = random_state
        self.device = device
        self.encoder = encoder

    # --- fitting -------------------------------------------------------------------------
    def fit(self, bags: Bags, y: Any = None) -> MILClassifier:
        """Train on `bags` with labels `y` (default: the bags' own labels)."""
        labels = np.asarray(bags.labels if y is None else y)
        if len(labels) != len(bags):
            raise DataError(f"{len(labels)} labels for {len(bags)} bags")
        if (labels < 0).any():
            bag = int(np.flatnonzero(labels < 0)[0])
            raise DataError(f"bag {bags.ids[bag]!r} (#{bag}) has no label")
        self.classes_, y_index = np.unique(labels, return_inverse=True)
        if len(self.classes_) < 2:
            raise DataError(f"training bags have a single class ({self.classes_[0]}); need two")
        self.n_features_in_ = bags.dim
        self.class_names_ = (
            [
                str(bags.class_names[c]) if 0 <= c < len(bags.class_names) else str(c)
                for c in self.classes_
            ]
            if y is None
            else [str(c) for c in self.classes_]
        )
        self._fit_statistics(bags.instances)
        data = self._prepared(bags)
        train, held = self._split(y_index)
        torch.manual_seed(self.random_state)
        self.model_ = self._network().to(self.device)
        plug_ins = [create_regularizer(spec) for spec in self.regularizers]
        if any(p.needs_attention for p in plug_ins) and not self.model_.pool.attention:
            raise ValueError(f"regularizers {list(self.regularizers)} need an attention aggregator")
        mining = next((p for p in plug_ins if p.needs_teacher), None)
        teacher = self._teacher(bags, labels, mining) if mining else None
        masks = torch.Generator().manual_seed(self.random_state)
        optimiser = torch.optim.Adam(
            self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        generator = np.random.default_rng(self.random_state)
        targets = torch.as_tensor(y_index, device=self.device)
        best, best_state, best_epoch, waited = np.inf, None, 0, 0
        settled = max(
            [p.settled_epoch(self.epochs) for p in plug_ins if hasattr(p, "settled_epoch")],
            default=0,
        )
        steps_per_epoch = -(-len(train) // self.batch_size)
        total_steps, step = max(1, self.epochs * steps_per_epoch), 0
        self.history_: list[dict[str, float]] = []
        for epoch in range(self.epochs):
            self.model_.train()
            order = generator.permutation(train)
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                x, segments = data.packed(batch, self.device)
                hidden, teacher_pooled = None, None
                if teacher is not None:
                    with torch.no_grad():
                        _, hard, _, teacher_pooled = teacher(x, segments, len(batch))
                    hidden = mining.choose(hard, segments, len(batch), masks, step / total_steps)
                logits, attention, _, pooled = self.model_(x, segments, len(batch), hidden)
                loss = F.cross_entropy(logits, targets[batch])
                for plug_in in plug_ins:  # curricula that reweigh the cross-entropy itself
                    if plug_in.needs_embeddings:
                        progress = epoch / max(1, self.epochs - 1)
                        loss = plug_in.combine(loss, pooled, targets[batch], progress)
                if len(self.model_.branch_heads):
                    loss = loss + self._acmil_terms(segments, len(batch), targets[batch])
                for plug_in in plug_ins:
                    if plug_in.needs_teacher:
                        loss = loss + plug_in.consistency(pooled, teacher_pooled)
                    elif not plug_in.needs_embeddings:
                        loss = loss + plug_in(attention, segments, len(batch))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                if teacher is not None:
                    mining.update(teacher, self.model_, step / total_steps)
                step += 1
                total += float(loss.detach()) * len(batch)
            record = {"epoch": epoch, "train_loss": total / len(order)}
            if len(held):
                record["validation_loss"] = self._loss(data, held, targets)
                if epoch < settled:  # a curriculum still running has no epoch to keep yet
                    waited = 0
                elif record["validation_loss"] < best - 1e-6:
                    best, waited, best_epoch = record["validation_loss"], 0, epoch
                    best_state = {
                        k: v.detach().clone() for k, v in self.model_.state_dict().items()
                    }
                else:
                    waited += 1
            self.history_.append(record)
            if len(held) and waited >= self.patience:
                break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.n_epochs_ = len(self.history_)
        self.best_epoch_ = best_epoch if best_state is not None else self.n_epochs_ - 1
        return self

    def _teacher(self, bags: Bags, labels: np.ndarray, mining: Any) -> MILNet:
        """MHIM's frozen EMA teacher: a baseline fitted without plug-ins (the paper's start),
        or a copy of the student's initial weights."""
        if mining.pretrained_teacher:
            baseline = clone(self).set_params(regularizers=()).fit(bags, labels).model_
        else:
            baseline = copy.deepcopy(self.model_)
        return baseline.to(self.device).eval().requires_grad_(False)

    def _acmil_terms(self, segments: torch.Tensor, n: int, y: torch.Tensor) -> torch.Tensor:
        """ACMIL: cross-entropy of every branch's classifier + branch-attention diversity."""
        pool, heads = self.model_.pool, self.model_.branch_heads
        branch_loss = torch.stack(
            [F.cross_entropy(head(pool.branch_embeddings[:, m]), y) for m, head in enumerate(heads)]
        ).mean()
        return branch_loss + branch_diversity(pool.branch_attention, segments, n)

    def _fit_statistics(self, instances: np.ndarray) -> None:
        """Standardisation: per feature, or one mean and scale for all (image encoders)."""
        dim = instances.shape[1]
        if not self.standardize:
            self.mean_, self.scale_ = np.zeros(dim, np.float32), np.ones(dim, np.float32)
            return
        if INSTANCE_ENCODERS.entry(self.encoder)[0].factory.per_feature_statistics:
            mean, scale = instances.mean(0), instances.std(0)
        else:
            mean, scale = np.full(dim, instances.mean()), np.full(dim, instances.std())
        self.mean_ = mean.astype(np.float32)
        self.scale_ = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)

    def _network(self) -> MILNet:
        return MILNet(
            self.n_features_in_,
            self.hidden,
            len(self.classes_),
            self.aggregator,
            self.attention_dim,
            self.dropout,
            self.encoder,
        )

    def _split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation bag indices (stratified; none when too few bags)."""
        everything = np.arange(len(y))
        n_held = round(self.validation_fraction * len(y))
        if n_held < len(self.classes_) or np.bincount(y).min() < 2:
            return everything, everything[:0]
        splitter = StratifiedShuffleSplit(1, test_size=n_held, random_state=self.random_state)
        train, held = next(splitter.split(np.zeros(len(y)), y))
        return np.sort(train), np.sort(held)

    def _prepared(self, bags: Bags) -> Bags:
        if bags.dim != self.n_features_in_:
            raise DataError(
                f"bags have {bags.dim} features per instance; the model was fitted on "
                f"{self.n_features_in_}"
            )
        standardised = (bags.instances - self.mean_) / self.scale_
        return Bags(standardised, bags.offsets, bags.labels, bags.ids, bags.name)

    @torch.inference_mode()
    def _loss(self, data: Bags, index: np.ndarray, targets: torch.Tensor) -> float:
        self.model_.eval()
        x, segments = data.packed(index, self.device)
        logits = self.model_(x, segments, len(index))[0]
        return float(F.cross_entropy(logits, targets[index]))

    # --- prediction ----------------------------------------------------------------------
    @torch.inference_mode()
    def _outputs(self, bags: Bags, batch_size: int = 64):
        """Per batch of bags (in order): logits and attention."""
        self.model_.eval()
        data = self._prepared(bags)
        for start in range(0, len(bags), batch_size):
            index = np.arange(start, min(start + batch_size, len(bags)))
            x, segments = data.packed(index, self.device)
            logits, attention, _, _ = self.model_(x, segments, len(index))
            yield index, logits.float().cpu().numpy(), attention

    def predict_proba(self, bags: Bags) -> np.ndarray:
        """(B, K) class probabilities of every bag."""
        chunks = [torch.softmax(torch.from_numpy(z), 1).numpy() for _, z, _ in self._outputs(bags)]
        return np.concatenate(chunks)

    def predict(self, bags: Bags) -> np.ndarray:
        return self.classes_[self.predict_proba(bags).argmax(1)]

    def instance_scores(self, bags: Bags) -> list[np.ndarray]:
        """Attention weight of every instance, one array per bag (attention aggregators)."""
        if not self.model_.pool.attention:
            raise ValueError(f"aggregator {self.aggregator!r} has no attention")
        scores = []
        for index, _, attention in self._outputs(bags):
            flat = attention.float().cpu().numpy()
            scores += np.split(flat, np.cumsum(bags.sizes[index])[:-1])
        return scores

    @torch.inference_mode()
    def instance_embeddings(self, instances: np.ndarray) -> np.ndarray:
        """The learned instance embedding φ(x) (N, hidden) of raw instance vectors: FACILE's
        second stage fits a few-shot instance classifier (any head) on these."""
        self.model_.eval()
        x = (np.asarray(instances, dtype=np.float32) - self.mean_) / self.scale_
        return self.model_.embed(torch.from_numpy(x).to(self.device)).cpu().numpy()

    # --- persistence ---------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """JSON parameters + safetensors weights and statistics (no pickle)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {
            f"model.{k}": v.detach().cpu().numpy() for k, v in self.model_.state_dict().items()
        }
        arrays.update(mean=self.mean_.astype(np.float32), scale=self.scale_)
        save_file(arrays, str(folder / "weights.safetensors"))
        meta = {
            "params": self.get_params(),
            "classes": self.classes_.tolist(),
            "n_features_in": int(self.n_features_in_),
            "class_names": list(getattr(self, "class_names_", map(str, self.classes_))),
        }
        (folder / "mil.json").write_text(json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> MILClassifier:
        folder = Path(folder)
        if not (folder / "mil.json").is_file():
            raise DataError(f"{folder} is not a saved MIL model (no mil.json)")
        meta = json.loads((folder / "mil.json").read_text())
        model = cls(**meta["params"])
        model.classes_ = np.asarray(meta["classes"])
        model.n_features_in_ = meta["n_features_in"]
        model.class_names_ = meta.get("class_names") or [str(c) for c in model.classes_]
        arrays = load_file(str(folder / "weights.safetensors"))
        model.mean_, model.scale_ = arrays.pop("mean"), arrays.pop("scale")
        model.model_ = model._network().to(model.device)
        state = {k.removeprefix("model."): torch.from_numpy(v) for k, v in arrays.items()}
        model.model_.load_state_dict(state)
        return model
