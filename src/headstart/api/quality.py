"""The data-quality verb: audit a store for label errors, duplicates, outliers and feature
bias, optionally writing a cleaned copy. Re-exported by `headstart.api`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from headstart.quality.detectors import DEFAULT_DETECTORS, DETECTORS
from headstart.workflow.audit import FIXES, AuditResult, audit_store

__all__ = ["DETECTORS", "FIXES", "AuditResult", "audit"]


def audit(
    store: str | Path,
    out: str | Path,
    *,
    head: str = "gda",
    detectors: Sequence[str] = DEFAULT_DETECTORS,
    primary: str = "confident-learning",
    folds: int = 5,
    threshold: float = 0.97,
    attributes: str | Path | None = None,
    image_stats: bool = False,
    fix: str | None = None,
    fix_out: str | Path | None = None,
    seed: int = 0,
    progress: bool = True,
) -> AuditResult:
    """Audit `store` into folder `out`: issues.csv, duplicates.csv, outliers.csv,
    feature_bias.csv (with `attributes`, a CSV of `id` + columns, or `image_stats`: the
    source images' brightness and contrast), audit.json and audit.html.
    `fix` "relabel" or "drop" writes a new store (to `fix_out`, default `out/store-<fix>`)
    with the primary detector's flagged items relabelled to its suggestion or dropped; the
    audited store is never changed."""
    return audit_store(
        store,
        out,
        head=head,
        detectors=tuple(detectors),
        primary=primary,
        folds=folds,
        threshold=threshold,
        attributes=attributes,
        image_stats=image_stats,
        fix=fix,
        fix_out=fix_out,
        seed=seed,
        progress=progress,
    )
