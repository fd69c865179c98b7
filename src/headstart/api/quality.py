"""The data-quality verb: audit a store for label errors, duplicates, outliers and feature
bias, optionally writing a cleaned copy. Re-exported by `headstart.api`; `audit` is the
workflow's own function (it took nothing to pass on)."""

from __future__ import annotations

from headstart.quality.detectors import DETECTORS
from headstart.workflow.audit import FIXES, AuditResult
from headstart.workflow.audit import audit_store as audit

__all__ = ["DETECTORS", "FIXES", "AuditResult", "audit"]
