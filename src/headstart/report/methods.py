"""Which methods a report's results used, and how each differs from its paper.

Every registry entry may carry a `variant` note (see `headstart.registry`): what ours does that
its paper or official code does not. A report names the methods behind its rows — heads, open-set
scores, MIL aggregators, regularizers and instance classifiers, adaptation losses — and lists
those with a note, so a reader comparing with published numbers knows what was run.
"""

from __future__ import annotations

import html
import re
from typing import Any

from headstart.adapt.losses import LOSSES
from headstart.heads import HEADS
from headstart.mil.aggregators import AGGREGATORS
from headstart.mil.instance_models import INSTANCE_CLASSIFIERS
from headstart.mil.regularizers import REGULARIZERS
from headstart.openset.scores import OPEN_SET_SCORES
from headstart.protocol import Results
from headstart.registry import Registry

REGISTRIES: dict[str, Registry] = {
    "head": HEADS,
    "open-set score": OPEN_SET_SCORES,
    "aggregator": AGGREGATORS,
    "regularizer": REGULARIZERS,
    "instance MIL classifier": INSTANCE_CLASSIFIERS,
    "adaptation loss": LOSSES,
}


def _names(results: Results) -> set[str]:
    """Every token of the rows' method names ("gda · knn", "attention+aem", …) and of the
    provenance's adaptation loss."""
    found: set[str] = set()
    for head in results.heads():
        found |= {t for t in re.split(r"\s*[·+]\s*|\s+", str(head)) if t}
    settings = (results.provenance.get("adapt") or {}).get("settings") or {}
    if settings.get("loss"):
        found.add(str(settings["loss"]))
    return found


def method_variants(results: Results) -> list[dict[str, Any]]:
    """(kind, name, summary, variant) of each method used whose entry declares a variant."""
    used = _names(results)
    rows = []
    for kind, registry in REGISTRIES.items():
        for entry in registry:
            if entry.name in used and entry.variant:
                rows.append(
                    {"kind": kind, "name": entry.name, "summary": entry.summary,
                     "variant": entry.variant}
                )  # fmt: skip
    return rows


def variants_section(results: Results) -> str:
    """An HTML section listing the variants, or "" when every method used has none."""
    rows = method_variants(results)
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>{html.escape(r['name'])}</td><td>{html.escape(r['kind'])}</td>"
        f"<td style='text-align:left'>{html.escape(r['variant'])}</td></tr>"
        for r in rows
    )
    return (
        "<section id='variants'><h2>Methods that differ from their papers</h2>"
        "<table><tr><th>method</th><th>kind</th><th>how it differs here</th></tr>"
        f"{body}</table></section>"
    )
