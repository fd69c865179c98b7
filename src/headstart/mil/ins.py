"""`INS` (Qu et al., "Rethinking multiple instance learning for whole slide image
classification: a good instance classifier is all you need", IEEE TCSVT 2024; official code
miccaiif/INS, built on PiCO) on instance features.

Bag labels become candidate sets: an instance of a negative bag is {negative}, one of a
positive bag {negative, positive}; its soft target (the "confidence") starts uniform over its
candidates. One network embeds an instance (encoder), classifies it (fc → 2 logits) and
projects it (MLP → 128-d, L2-normalised); a momentum copy (m = 0.999) embeds a second view
as the key; a queue holds past keys with their pseudo-labels. Training, batches of 64:
1. pre-training, 1 epoch, every instance: CE(fc, its bag label), nothing else moves
   (`train_classifier_pretrain` of the CIFAR-MIL script);
2. warm-up, epochs < `warmup_epochs`, positive bags' instances only: CE(fc, confidence) +
   0.5·MoCo(q; k, queue) (τ 0.07); the confidence does not move yet;
3. then every instance: each row's confidence moves towards the candidate argmax of its
   prototype scores softmax(q·μᵀ), c ← φ·c + (1 − φ)·onehot, negative-bag rows reset to
   [1, 0]; φ from 0.95 to 0.8 (epoch e ≥ 1 uses 0.95 − 0.15·(e − 1)/epochs, the official
   schedule); loss = CE(fc, the updated confidence) + 0.5·SupCon over [q, k, queue]:
   anchors q, positives the rows sharing the classifier's pseudo-label (τ 0.07);
4. each epoch from `bag_head_start` ends with the attention bag head: one bag per step, CE
   on the bag label, back-propagated into the encoder (dropout 0.5, two ReLU layers,
   ABMIL attention, linear, weights N(0, 0.01): `teacher_Attention_head`).
In steps 2–3 the pseudo-label is the candidate argmax of softmax(fc), and every row moves its
class's prototype (μ_y ← 0.9·μ_y + 0.1·q row by row, then both L2-normalised) after the
prototype scores were read. One SGD optimiser (lr 0.01, momentum 0.9, weight decay 1e-3);
40 epochs, warm-up 1 (`train_withbag_cam.py`, the repository's quick start). A bag is scored
by the bag head (`bag_score="attention"`) or by the mean or max of its instances' positive
probabilities (the CIFAR-MIL script reports all three; mean is its "bag AUC").

Where this differs from the official code, and why:
- inputs are embeddings: the encoder is Linear + ReLU on standardised features instead of
  ResNet-18 on images; widths 128 / bag head 256 and attention 128 keep the official
  512 / 1024 / 512 ratios at a tenth of the CPU time;
- views: the query sees feature dropout p = 0.2, the key p = 0.4 (`view_dropout`). The
  official feature loader writes exactly these dropouts but with `training=False`, so its
  two views are the unchanged feature; `view_dropout=(0, 0)` reproduces that;
- candidate sets come from bag labels throughout, as in the CIFAR-MIL script; the
  CAMELYON16 scripts build them after warm-up from instance labels, which MIL does not have;
- the bag head is `model_feat.py`'s attention head (`model.py`, which the scripts import,
  reads the mean of a bag's 512 encoder features as logits), trained every epoch as in the
  feature script; its steps clip the gradient norm at `bag_clip` = 1. On synthetic bags (1–2
  positives among 6–13 instances) the unclipped head at the official widths and optimiser
  overflowed to NaN within 12 epochs (at our widths: instance AUC 0.55 against 0.99), and the
  CIFAR-MIL schedule (80 epochs, warm-up 15, bag head from epoch 30) drove every
  pseudo-label to negative (instance AUC 0.56 against 0.99);
- the queue holds only keys already pushed (the official one starts as random vectors),
  at most `queue_size` = 8192 and never more than the training instances (on a small set a
  longer queue would hold the same instance's keys several times); the last, short batch
  is kept (the official loaders drop it so that 8192 divides into batches).
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from headstart.heads.tensors import ema_update
from headstart.mil.aggregators import AttentionPooling
from headstart.mil.bags import Bags
from headstart.mil.ins_steps import (
    KeyQueue,
    confidence_momentum,
    moco_loss,
    prototype_labels,
    supcon_loss,
    update_confidence,
    update_prototypes,
)
from headstart.mil.instance_models import (
    InstanceClassifierBase,
    binary_bag_labels,
    pool_instance_scores,
)

BAG_SCORES = ("attention", "mean", "max")


class INSNet(nn.Module):
    """Encoder → (instance logits, normalised projection): the official SupConResNet with
    its ResNet-18 replaced by Linear + ReLU on features."""

    def __init__(self, dim: int, hidden: int, projection_dim: int) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU())
        self.fc = nn.Linear(hidden, 2)
        self.head = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, projection_dim)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)  # (N, hidden)
        return self.fc(h), F.normalize(self.head(h), dim=1)


class BagHead(nn.Module):
    """The official attention bag head on encoder features: dropout-MLP, ABMIL attention,
    linear; every Linear initialised N(0, 0.01) with zero bias, as the official one."""

    def __init__(self, hidden: int, width: int, attention_dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(hidden, width), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(width, width), nn.ReLU(),
        )  # fmt: skip
        self.pool = AttentionPooling(width, attention_dim)
        self.classifier = nn.Linear(width, 2)
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, 0.0, 0.01)
                nn.init.zeros_(layer.bias)

    def forward(self, h: torch.Tensor, segments: torch.Tensor, n: int) -> torch.Tensor:
        """Packed instance features (N, hidden) of `n` bags → bag logits (n, 2)."""
        pooled, _, _ = self.pool(self.mlp(h), segments, n)
        return self.classifier(pooled)


class INS(InstanceClassifierBase):
    """INS on instance features: prototype pseudo-labels, MoCo → SupCon, attention bag head
    (see the module docstring for the steps and where they differ from the official code)."""

    def __init__(
        self,
        hidden: int = 128,
        projection_dim: int = 128,
        bag_width: int = 256,
        bag_attention_dim: int = 128,
        epochs: int = 40,
        pretrain_epochs: int = 1,
        warmup_epochs: int = 1,
        bag_head_start: int = 0,
        batch_size: int = 64,
        lr: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 1e-3,
        queue_size: int = 8192,
        key_momentum: float = 0.999,
        prototype_momentum: float = 0.9,
        confidence_momentum: tuple[float, float] = (0.95, 0.8),
        loss_weight: float = 0.5,
        temperature: float = 0.07,
        view_dropout: tuple[float, float] = (0.2, 0.4),
        bag_score: str = "attention",
        bag_clip: float | None = 1.0,
        random_state: int = 0,
    ) -> None:
        self.hidden = hidden
        self.projection_dim = projection_dim
        self.bag_width = bag_width
        self.bag_attention_dim = bag_attention_dim
        self.epochs = epochs
        self.pretrain_epochs = pretrain_epochs
        self.warmup_epochs = warmup_epochs
        self.bag_head_start = bag_head_start
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.queue_size = queue_size
        self.key_momentum = key_momentum
        self.prototype_momentum = prototype_momentum
        self.confidence_momentum = confidence_momentum
        self.loss_weight = loss_weight
        self.temperature = temperature
        self.view_dropout = view_dropout
        self.bag_score = bag_score
        self.bag_clip = bag_clip
        self.random_state = random_state

    def _check_params(self) -> None:
        """Every option against what it allows; the error names the option and the value."""

        def count(low: int, high: float = float("inf")):
            return lambda v: isinstance(v, numbers.Integral) and low <= v <= high

        head_last = self.epochs - 1 if self.bag_score == "attention" else float("inf")
        rules = [
            (name, "a positive int", count(1))
            for name in ("hidden", "projection_dim", "bag_width", "bag_attention_dim")
        ]
        rules += [
            ("epochs", "a positive int", count(1)),
            ("batch_size", "a positive int", count(1)),
            ("queue_size", "a positive int", count(1)),
            ("pretrain_epochs", "an int >= 0", count(0)),
            ("warmup_epochs", f"an int in [0, epochs={self.epochs}]", count(0, self.epochs)),
            ("bag_head_start", f"an int in [0, epochs={self.epochs}) when the bag head "
             "scores bags", count(0, head_last)),
            ("lr", "> 0", lambda v: v > 0),
            ("temperature", "> 0", lambda v: v > 0),
            ("weight_decay", ">= 0", lambda v: v >= 0),
            ("loss_weight", ">= 0", lambda v: v >= 0),
            ("momentum", "in [0, 1)", lambda v: 0 <= v < 1),
            ("key_momentum", "in [0, 1]", lambda v: 0 <= v <= 1),
            ("prototype_momentum", "in [0, 1]", lambda v: 0 <= v <= 1),
            ("confidence_momentum", "two values in [0, 1] (start, end)",
             lambda v: len(v) == 2 and all(0 <= m <= 1 for m in v)),
            ("view_dropout", "two probabilities in [0, 1) (query, key)",
             lambda v: len(v) == 2 and all(0 <= p < 1 for p in v)),
            ("bag_score", f"one of {BAG_SCORES}", lambda v: v in BAG_SCORES),
            ("bag_clip", "None or > 0", lambda v: v is None or v > 0),
        ]  # fmt: skip
        for name, allowed, ok in rules:
            value = getattr(self, name)
            try:
                valid = bool(ok(value))
            except TypeError:
                valid = False
            if not valid:
                raise ValueError(f"INS: {name} must be {allowed}, got {value!r}")

    def fit(self, bags: Bags, y: object = None) -> INS:
        """Train the instance classifier, its contrastive branch and the bag head."""
        labels = binary_bag_labels(bags, y, "INS")
        self._check_params()
        self._fit_statistics(bags.instances)
        x = self._standardised(bags)
        negative = torch.from_numpy(np.repeat(labels == 0, bags.sizes))
        candidates = torch.stack([torch.ones(len(x)), (~negative).float()], dim=1)
        self.confidence_ = candidates / candidates.sum(1, keepdim=True)  # uniform
        self.prototypes_ = torch.zeros(2, self.projection_dim)
        self._queue = KeyQueue(min(self.queue_size, len(x)), self.projection_dim)
        torch.manual_seed(self.random_state)
        self.model_ = INSNet(bags.dim, self.hidden, self.projection_dim)
        self._key = copy.deepcopy(self.model_).requires_grad_(False)
        self.bag_head_ = BagHead(self.hidden, self.bag_width, self.bag_attention_dim)
        parameters = [*self.model_.parameters(), *self.bag_head_.parameters()]
        optimiser = torch.optim.SGD(
            parameters, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )
        order = torch.Generator().manual_seed(self.random_state)
        instance_labels = torch.from_numpy(np.repeat(labels, bags.sizes))
        positive_rows = torch.from_numpy(np.flatnonzero(~negative.numpy()))
        self.model_.train()
        self.bag_head_.train()

        def step(loss: torch.Tensor, clip: float | None = None) -> None:
            optimiser.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(parameters, clip)
            optimiser.step()

        for _ in range(self.pretrain_epochs):  # the bag label as every instance's label
            for rows in torch.randperm(len(x), generator=order).split(self.batch_size):
                logits, _ = self.model_(F.dropout(x[rows], self.view_dropout[0], training=True))
                step(F.cross_entropy(logits, instance_labels[rows]))
        for epoch in range(self.epochs):
            phi = confidence_momentum(epoch, self.epochs, self.confidence_momentum)
            pool = positive_rows if epoch < self.warmup_epochs else torch.arange(len(x))
            for rows in pool[torch.randperm(len(pool), generator=order)].split(self.batch_size):
                step(
                    self._instance_loss(x[rows], rows, candidates[rows], negative[rows], phi, epoch)
                )
            if epoch < self.bag_head_start:
                continue
            for b in torch.randperm(len(bags), generator=order).tolist():
                h = self.model_.encoder(x[bags.offsets[b] : bags.offsets[b + 1]])
                logits = self.bag_head_(h, torch.zeros(len(h), dtype=torch.long), 1)
                step(F.cross_entropy(logits, torch.from_numpy(labels[b : b + 1])), self.bag_clip)
        self.model_.eval()
        self.bag_head_.eval()
        del self._key, self._queue
        self.confidence_ = self.confidence_.numpy()
        self.prototypes_ = self.prototypes_.numpy()
        return self

    def _instance_loss(
        self,
        x: torch.Tensor,
        rows: torch.Tensor,
        candidates: torch.Tensor,
        negative: torch.Tensor,
        phi: float,
        epoch: int,
    ) -> torch.Tensor:
        """One instance batch: prototypes, key, queue and (after warm-up) confidence move;
        returns CE(fc, confidence) + loss_weight · (MoCo in warm-up, else SupCon)."""
        query_view = F.dropout(x, self.view_dropout[0], training=True)
        key_view = F.dropout(x, self.view_dropout[1], training=True)
        logits, q = self.model_(query_view)  # (B, 2), (B, projection_dim)
        pseudo = (torch.softmax(logits.detach(), dim=1) * candidates).argmax(1)
        from_prototypes = prototype_labels(q.detach(), self.prototypes_, candidates)
        self.prototypes_ = update_prototypes(
            self.prototypes_, q.detach(), pseudo, self.prototype_momentum
        )
        with torch.no_grad():
            ema_update(self._key, self.model_, self.key_momentum)
            _, k = self._key(key_view)
        past_keys, past_labels = self._queue.contents()
        past_keys, past_labels = past_keys.clone(), past_labels.clone()
        self._queue.push(k, pseudo)
        if epoch < self.warmup_epochs:
            contrastive = moco_loss(q, k, past_keys, self.temperature)
        else:
            self.confidence_[rows] = update_confidence(
                self.confidence_[rows], from_prototypes, phi, negative
            )
            contrast = torch.cat([q, k, past_keys])
            contrast_labels = torch.cat([pseudo, pseudo, past_labels])
            contrastive = supcon_loss(contrast, contrast_labels, len(q), self.temperature)
        classification = -(self.confidence_[rows] * F.log_softmax(logits, dim=1)).sum(1).mean()
        return classification + self.loss_weight * contrastive

    @torch.no_grad()
    def instance_proba(self, bags: Bags) -> np.ndarray:
        """Positive-class probability of every instance (N,) from the instance classifier."""
        logits, _ = self.model_(self._standardised(bags))
        return torch.softmax(logits, dim=1)[:, 1].numpy()

    @torch.no_grad()
    def predict_proba(self, bags: Bags) -> np.ndarray:
        """(B, 2) from the bag head, or the mean / max of the instance probabilities."""
        if self.bag_score == "attention":
            h = self.model_.encoder(self._standardised(bags))
            segments = torch.from_numpy(np.repeat(np.arange(len(bags)), bags.sizes))
            return torch.softmax(self.bag_head_(h, segments, len(bags)), dim=1).numpy()
        scores = self.instance_proba(bags).astype(np.float64)
        bag = pool_instance_scores(scores, bags.offsets, self.bag_score)
        return np.stack([1 - bag, bag], axis=1)
