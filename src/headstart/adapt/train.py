"""Training an adapter on a store's training rows with a contrastive loss.

Positives for each anchor come from, in order of preference under `positives="auto"`:
augmented views of the same item (stores embedded with `--views`), another item of the same
label, or one of the item's `k` nearest neighbours in the frozen space (no labels needed).
"transitive" (for the transitive-invariance loss) walks one step of the graph of view and
neighbour edges: half the time another view of the item itself, half the time a random view
of one of its `k` neighbours. A loss may restrict the sources it accepts.
A seeded `holdout` share of the rows never trains: the loss on fixed pairs drawn among them
decides early stopping (`patience` epochs without improvement; the best weights are kept).
A loss that contrasts a target store with a background store (SepCLR) trains on both, the
group (0 background, 1 target) standing in for the labels.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from headstart.adapt.adapter import ADAPTERS, create_adapter
from headstart.adapt.losses import ContrastiveLoss, Pair, create_loss
from headstart.exceptions import DataError
from headstart.heads.tensors import ema_update
from headstart.vector_index import unit_rows

POSITIVES = ("auto", "views", "labels", "neighbours", "transitive")


@dataclass
class AdaptSettings:
    """Everything that determines a trained adapter, recorded beside its weights."""

    loss: str = "info-nce"
    loss_options: dict[str, Any] = field(default_factory=dict)
    adapter: str = "residual"
    adapter_options: dict[str, Any] = field(default_factory=dict)
    positives: str = "auto"
    neighbours: int = 5
    epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    holdout: float = 0.1
    patience: int = 5
    seed: int = 0
    device: str = "cpu"


def _positive_source(settings: AdaptSettings, loss: ContrastiveLoss, y, views) -> str:
    if settings.neighbours < 1:
        raise DataError(f"neighbours must be at least 1, got {settings.neighbours}")
    if settings.positives not in POSITIVES:
        raise DataError(f"positives must be one of {', '.join(POSITIVES)}")
    accepted = loss.positive_sources or ("views", "labels", "neighbours")
    labelled = y is not None and (y >= 0).any()
    source = settings.positives
    if source == "auto":
        usable = {"views": views is not None, "labels": labelled, "transitive": views is not None}
        source = next((s for s in accepted if usable.get(s, True)), accepted[0])
    if source not in accepted:
        raise DataError(
            f"loss {settings.loss!r} takes positives from {' or '.join(accepted)}, not {source}"
        )
    if source in ("views", "transitive") and views is None:
        raise DataError(f"positives {source!r} need a store embedded with --views N")
    if source == "labels" and not labelled:
        raise DataError("positives 'labels' need a labelled store")
    return source


class PairSampler:
    """Draws one positive per anchor from the chosen source, partners from `pool` rows only.

    The trainer gives the training sampler the training rows as its pool, so no held-out row
    is ever an anchor's partner (nor shapes the neighbour graph); with label positives the
    partner is another item of the class, the anchor itself only when its class has no other.
    """

    def __init__(
        self, X, y, views, source: str, k: int, rng: np.random.Generator, pool: np.ndarray
    ) -> None:
        self.X, self.y, self.views, self.source, self.rng = X, y, views, source, rng
        pool = np.sort(np.asarray(pool, dtype=np.int64))
        if source == "labels":
            self.members = {c: pool[y[pool] == c] for c in np.unique(y[pool][y[pool] >= 0])}
        if source in ("neighbours", "transitive"):
            self.near = np.full((len(X), k), -1, dtype=np.int64)  # rows outside the pool: −1
            unit = torch.as_tensor(unit_rows(X[pool]), dtype=torch.float32)
            k_pool = min(k, len(pool) - 1)
            if k_pool < 1:
                raise DataError(f"positives {source!r} need at least 2 training rows")
            for start in range(0, len(pool), 2048):
                similarity = unit[start : start + 2048] @ unit.T  # (chunk, |pool|)
                local = torch.arange(start, min(start + 2048, len(pool)))
                similarity[local - start, local] = -np.inf  # never its own neighbour
                nearest = similarity.topk(k_pool, dim=1).indices.numpy()
                self.near[pool[local.numpy()], :k_pool] = pool[nearest]
            self.near = self.near[:, :k_pool]

    def _same_label_partners(self, rows: np.ndarray) -> np.ndarray:
        partners = np.empty(len(rows), dtype=np.int64)
        for i, row in enumerate(rows):
            members = self.members[self.y[row]]
            if len(members) == 1:
                partners[i] = members[0]
                continue
            own = np.searchsorted(members, row)  # the anchor's place among its class
            draw = self.rng.integers(0, len(members) - 1)
            partners[i] = members[draw + (draw >= own)]
        return partners

    def pairs(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(anchor features, positive features) for the items `rows`."""
        if self.source == "views":
            v = self.views.shape[1]
            first = self.rng.integers(0, v, len(rows))
            second = (first + self.rng.integers(1, v, len(rows))) % v
            return self.views[rows, first], self.views[rows, second]
        if self.source == "labels":
            return self.X[rows], self.X[self._same_label_partners(rows)]
        pick = self.near[rows, self.rng.integers(0, self.near.shape[1], len(rows))]
        if self.source == "neighbours":
            return self.X[rows], self.X[pick]
        v = self.views.shape[1]
        first = self.rng.integers(0, v, len(rows))
        own = self.rng.random(len(rows)) < 0.5  # intra-instance edge, else via a neighbour
        partner = np.where(own, rows, pick)
        other_view = (first + self.rng.integers(1, v, len(rows))) % v
        second = np.where(own, other_view, self.rng.integers(0, v, len(rows)))
        return self.views[rows, first], self.views[partner, second]


def split_rows(n: int, holdout: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows): a seeded permutation, the last `holdout` share held."""
    order = rng.permutation(n)
    n_train = round(n * (1 - holdout))
    return order[:n_train], order[n_train:]


def _training_rows(source: str, y: np.ndarray | None, n: int) -> np.ndarray:
    """The rows an adapter trains on: the labelled ones when positives come from labels."""
    if source == "labels":
        return np.flatnonzero(np.asarray(y) >= 0)
    return np.arange(n)


def check_settings(
    settings: AdaptSettings,
    X: np.ndarray,
    y,
    views,
    background: np.ndarray | None = None,
    background_views: np.ndarray | None = None,
) -> tuple[ContrastiveLoss, str]:
    """Everything that can refuse a run, checked before any work: the loss (built) and where
    the positives come from (views only when a background store has them too)."""
    if background is not None and background_views is None:
        views = None
    loss = create_loss(settings.loss, **settings.loss_options)
    if settings.adapter not in ADAPTERS.names():
        raise DataError(
            f"unknown adapter {settings.adapter!r}; choose from {', '.join(ADAPTERS.names())}"
        )
    if loss.needs_background and background is None:
        raise DataError(
            f"loss {settings.loss!r} contrasts the store with a background store; "
            "give one (--background STORE)"
        )
    if background is not None and not loss.needs_background:
        raise DataError(f"loss {settings.loss!r} takes no background store")
    if background is not None and background.shape[1] != X.shape[1]:
        raise DataError(
            f"the background store has {background.shape[1]}-d vectors, the store {X.shape[1]}-d"
        )
    labelled = y is not None and (np.asarray(y) >= 0).any()
    if loss.needs_labels and not labelled:
        raise DataError(f"loss {settings.loss!r} needs labels; the store has none")
    source = _positive_source(settings, loss, y, views)
    n_rows = len(_training_rows(source, y, len(X))) + (0 if background is None else len(background))
    n_train = round(n_rows * (1 - settings.holdout))
    if settings.batch_size > n_train:
        raise DataError(
            f"batch size {settings.batch_size} is larger than the {n_train} training rows "
            "left after the holdout; lower the batch size (--batch-size; under eval base-novel, "
            "--adapt-option batch_size=N)"
        )
    return loss, source


def _with_background(X, views, background, background_views):
    """Background rows first, then the store's; the group (0, 1) as labels."""
    groups = np.r_[np.zeros(len(background), dtype=np.int64), np.ones(len(X), dtype=np.int64)]
    both = np.concatenate([background, X])
    if views is None or background_views is None:
        return both, groups, None
    return both, groups, np.concatenate([background_views, views])


def fit_adapter(
    X: np.ndarray,
    y: np.ndarray | None,
    settings: AdaptSettings,
    views: np.ndarray | None = None,
    progress=None,
    background: np.ndarray | None = None,
    background_views: np.ndarray | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A trained adapter and its history (loss per epoch, the epoch kept)."""
    loss, source = check_settings(settings, X, y, views, background, background_views)
    if background is not None:  # the group is all a background loss reads of labels
        X, y, views = _with_background(X, views, background, background_views)
    rows = _training_rows(source, y, len(X))
    if len(rows) < len(X):  # label positives: labelled rows only
        X, y = X[rows], np.asarray(y)[rows]
        views = None if views is None else views[rows]
    rng = np.random.default_rng(settings.seed)
    torch.manual_seed(settings.seed)
    train, held = split_rows(len(X), settings.holdout, rng)
    X = np.asarray(X, dtype=np.float32)
    labels = None if y is None else np.asarray(y)
    sampler = PairSampler(X, labels, views, source, settings.neighbours, rng, pool=train)
    loss.prepare(X, labels, train)
    adapter = create_adapter(settings.adapter, X.shape[1], **settings.adapter_options)
    with torch.no_grad():
        width = adapter(torch.as_tensor(X[:1])).shape[1]
    try:
        loss.build(width)
    except ValueError as error:
        raise DataError(
            f"loss {settings.loss!r} with adapter {settings.adapter!r}: {error}"
        ) from error
    adapter.to(settings.device)
    loss.to(settings.device)
    optimiser = torch.optim.AdamW(
        [*adapter.parameters(), *loss.parameters()],
        lr=settings.lr,
        weight_decay=settings.weight_decay,
    )
    # held-out pairs: their own random stream and every row as a partner; they never train
    held_sampler = PairSampler(
        X,
        labels,
        views,
        source,
        settings.neighbours,
        np.random.default_rng([settings.seed, 1]),
        pool=np.arange(len(X)),
    )
    fixed = held_sampler.pairs(held) if len(held) >= 2 else None
    key = None  # MoCo-style losses: a momentum copy of the adapter encodes the positives
    if loss.key_momentum is not None:
        key = copy.deepcopy(adapter).requires_grad_(False)
    history: dict[str, Any] = {"train": [], "held_out": [], "positives": source}
    best, best_state, waited = np.inf, None, 0
    for _ in range(settings.epochs):
        for module in (adapter, loss, key):
            if module is not None:
                module.train()
        epoch_loss = []
        shuffled = rng.permutation(train)
        for start in range(0, len(shuffled) - settings.batch_size + 1, settings.batch_size):
            rows = shuffled[start : start + settings.batch_size]
            pair = sampler.pairs(rows)
            value = loss(_batch(adapter, pair, labels, rows, settings.device, key))
            optimiser.zero_grad()
            value.backward()
            optimiser.step()
            if key is not None:
                ema_update(key, adapter, loss.key_momentum)  # MoCo's key encoder
            epoch_loss.append(float(value.detach()))
        history["train"].append(float(np.mean(epoch_loss)))
        if fixed is not None:
            for module in (adapter, loss, key):  # a held-out pass changes no state of a loss
                if module is not None:
                    module.eval()
            devices = [] if settings.device == "cpu" else None  # None: every CUDA device
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                torch.manual_seed(settings.seed + 1)  # the same draws on every held-out pass
                held_batch = _batch(adapter, fixed, labels, held, settings.device, key)
                held_loss = float(loss(held_batch))
            history["held_out"].append(held_loss)
            if held_loss < best - 1e-6:
                best, waited = held_loss, 0
                best_state = {k: v.detach().clone() for k, v in adapter.state_dict().items()}
            else:
                waited += 1
        if progress:
            progress(1)
        if fixed is not None and waited >= settings.patience:
            break
    if best_state is not None:
        adapter.load_state_dict(best_state)
        history["kept_epoch"] = int(np.argmin(history["held_out"])) + 1
    adapter.eval()
    return adapter, history


def _batch(adapter, pair, labels, rows, device, key=None) -> Pair:
    anchors, positives = (torch.as_tensor(p, device=device) for p in pair)
    if key is not None:
        with torch.no_grad():
            encoded_positives = key(positives)
    else:
        encoded_positives = adapter(positives)
    return Pair(
        adapter(anchors),
        encoded_positives,
        None if labels is None else torch.as_tensor(labels[rows], device=device),
        torch.as_tensor(rows, device=device),
    )
