"""`Bags`: a ragged collection of bags of instance vectors (multiple-instance learning).

All instances live in one (N, D) float32 matrix; bag b is rows offsets[b]:offsets[b+1]. Bags
carry a label (−1 = unknown), an id, optionally a group (e.g. the patient, for grouped
cross-validation), per-instance labels when the source has them (for evaluating attention) and,
for slides, each instance's level-0 patch coordinates (for heat maps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from headstart.exceptions import DataError


@dataclass(eq=False)
class Bags:
    """Bags of instances: `instances` (N, D), `offsets` (B+1,), `labels` (B,), `ids` (B,)."""

    instances: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    ids: list[str]
    name: str = ""
    groups: np.ndarray | None = None
    instance_labels: np.ndarray | None = None
    class_names: list[str] = field(default_factory=lambda: ["negative", "positive"])
    coords: np.ndarray | None = None  # (N, 2) level-0 (x, y) of slide patches

    def __post_init__(self) -> None:
        self.instances = np.asarray(self.instances, dtype=np.float32)
        self.offsets = np.asarray(self.offsets, dtype=np.int64)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.ids = [str(i) for i in self.ids]
        where = f"bags {self.name!r}" if self.name else "bags"
        if self.instances.ndim != 2:
            raise DataError(f"{where}: instances must be a 2-D matrix, got {self.instances.shape}")
        n_bags = len(self.offsets) - 1
        if n_bags < 1 or self.offsets[0] != 0 or self.offsets[-1] != len(self.instances):
            raise DataError(f"{where}: offsets must run from 0 to {len(self.instances)}")
        sizes = np.diff(self.offsets)
        if (sizes < 0).any():
            raise DataError(f"{where}: offsets must not decrease")
        for what, value in (("labels", self.labels), ("ids", self.ids)):
            if len(value) != n_bags:
                raise DataError(f"{where}: {len(value)} {what} for {n_bags} bags")
        if (sizes == 0).any():
            bag = int(np.flatnonzero(sizes == 0)[0])
            raise DataError(f"{where}: bag {self.ids[bag]!r} (#{bag}) is empty")
        bad = ~np.isfinite(self.instances).all(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            bag = int(np.searchsorted(self.offsets, row, side="right") - 1)
            raise DataError(
                f"{where}: bag {self.ids[bag]!r} (#{bag}) has a NaN or infinite value in "
                f"instance {row - self.offsets[bag]}"
            )
        if self.groups is not None:
            self.groups = np.asarray(self.groups, dtype=object).astype(str)
            if len(self.groups) != n_bags:
                raise DataError(f"{where}: {len(self.groups)} groups for {n_bags} bags")
        if self.instance_labels is not None:
            self.instance_labels = np.asarray(self.instance_labels, dtype=np.int64)
            if len(self.instance_labels) != len(self.instances):
                raise DataError(f"{where}: instance labels do not match the instances")
        if self.coords is not None:
            self.coords = np.asarray(self.coords, dtype=np.int64)
            if self.coords.shape != (len(self.instances), 2):
                raise DataError(
                    f"{where}: coords of shape {self.coords.shape} do not match the instances"
                )

    @classmethod
    def from_list(
        cls, bags: Sequence[Any], labels: Sequence[int], ids: Sequence[str] | None = None, **kw
    ) -> Bags:
        """From a list of (n_i, D) arrays; dimensions must agree (the error names the bag)."""
        arrays = [np.asarray(b, dtype=np.float32) for b in bags]
        ids = list(ids) if ids is not None else [str(i) for i in range(len(arrays))]
        if not arrays:
            raise DataError("no bags given")
        dim = arrays[0].shape[-1] if arrays[0].ndim == 2 else None
        for i, array in enumerate(arrays):
            if array.ndim != 2 or array.shape[1] != dim:
                raise DataError(
                    f"bag {ids[i]!r} (#{i}) has shape {array.shape}; every bag must be "
                    f"(instances, {dim})"
                )
        offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])])
        instances = np.concatenate(arrays) if arrays else np.empty((0, 0), np.float32)
        return cls(instances, offsets, np.asarray(labels), ids, **kw)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def dim(self) -> int:
        return self.instances.shape[1]

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def bag(self, index: int) -> np.ndarray:
        return self.instances[self.offsets[index] : self.offsets[index + 1]]

    def subset(self, index: Sequence[int] | np.ndarray) -> Bags:
        """The bags at `index`, in that order."""
        index = np.asarray(index, dtype=np.int64)
        pieces = [self.bag(i) for i in index]
        kept = None if self.instance_labels is None else self._rows(self.instance_labels, index)
        return Bags(
            np.concatenate(pieces),
            np.concatenate([[0], np.cumsum([len(p) for p in pieces])]),
            self.labels[index],
            [self.ids[i] for i in index],
            self.name,
            None if self.groups is None else self.groups[index],
            kept,
            list(self.class_names),
            None if self.coords is None else self._rows(self.coords, index),
        )

    def _rows(self, per_instance: np.ndarray, index: np.ndarray) -> np.ndarray:
        """The rows of a per-instance array that belong to bags `index`, in that order."""
        return np.concatenate([per_instance[self.offsets[i] : self.offsets[i + 1]] for i in index])

    def packed(
        self, index: Sequence[int] | np.ndarray, device: str | torch.device = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The instances of bags `index` stacked (N_b, D) with each one's position in `index`
        (N_b,): many bags per step with no padding to compute or mask."""
        index = np.asarray(index, dtype=np.int64)
        starts, sizes = self.offsets[index], self.sizes[index]
        rows = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, sizes, strict=True)])
        segments = np.repeat(np.arange(len(index)), sizes)
        x = torch.from_numpy(self.instances[rows]).to(device)
        return x, torch.from_numpy(segments).to(device)
