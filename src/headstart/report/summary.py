"""The top of the report: which head to use at each label budget, how sure we are, what it
cost — one sentence per shot level, a compact heads × shots table and a provenance line."""

from __future__ import annotations

import html
import math
from typing import Any

from headstart.protocol import Results
from headstart.protocol.results import FIT_SECONDS

LEVEL_NAMES = {"0": "zero-shot", "all": "all labels", "cv": "cross-validation"}


def level_name(level: str) -> str:
    if not level.isdigit():  # "all", "cv", "session 2"
        return LEVEL_NAMES.get(level, level)
    return LEVEL_NAMES.get(level, f"{level} shot{'s' if level != '1' else ''}")


def interval_text(cell: dict[str, Any]) -> str:
    """ "0.712 [0.690, 0.731] n=20", or "0.810 (n=1)" when there is no interval."""
    if math.isnan(cell["ci_low"]):
        return f"{cell['mean']:.3f} n={cell['seeds']}"
    return f"{cell['mean']:.3f} [{cell['ci_low']:.3f}, {cell['ci_high']:.3f}] n={cell['seeds']}"


def _names(heads: list[str]) -> str:
    quoted = [f"<b>{html.escape(h)}</b>" for h in heads]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def verdict(top: dict[str, Any], metric: str) -> str:
    """One sentence: the best head of a level, its interval, and who cannot be told from it."""
    text = (
        f"At {level_name(top['shots'])}, <b>{html.escape(top['head'])}</b> is best "
        f"({html.escape(metric)} {interval_text(top)})"
    )
    others = top["others"]
    tested = [h for h in others if h not in top["untested"]]
    if top["tied"]:
        verb = "is" if len(top["tied"]) == 1 else "are"
        text += f"; {_names(top['tied'])} {verb} not distinguishable from it"
    elif tested:
        text += "; every other head is worse (the 95% CI of the difference excludes 0)"
    elif not others:
        text += "; the only head at this level"
    if top["untested"]:
        verb = "is" if len(top["untested"]) == 1 else "are"
        text += f"; {_names(top['untested'])} {verb} not compared (fewer than two common seeds)"
    return text + "."


def fit_seconds(results: Results) -> dict[str, float]:
    """Mean seconds per fit of every head."""
    times: dict[str, list[float]] = {}
    for row in results.rows:
        if row["metric"] == FIT_SECONDS:
            times.setdefault(row["head"], []).append(row["value"])
    return {head: sum(v) / len(v) for head, v in times.items()}


def compact_table(results: Results, best: list[dict[str, Any]], metric: str) -> str:
    """Heads × shots: mean [95% CI] n; the best cell of a level in bold, the cells not
    distinguishable from it marked ≈; the mean fit time per head in the last column."""
    levels = results.shots()
    cells = {(s["head"], s["shots"]): s for s in results.summary() if s["metric"] == metric}
    tops = {b["shots"]: b for b in best}
    seconds = fit_seconds(results)
    header = "".join(f"<th>{html.escape(level_name(level))}</th>" for level in levels)
    rows = []
    for head in results.heads():
        tds = []
        for level in levels:
            cell = cells.get((head, level))
            top = tops.get(level)
            if cell is None:
                tds.append("<td>—</td>")
            elif top and top["head"] == head:
                tds.append(f"<td class='best'><b>{interval_text(cell)}</b></td>")
            elif top and head in top["tied"]:
                tds.append(f"<td class='tie'>≈ {interval_text(cell)}</td>")
            else:
                tds.append(f"<td>{interval_text(cell)}</td>")
        cost = f"{seconds[head]:.3g} s" if head in seconds else "—"
        rows.append(f"<tr><td>{html.escape(head)}</td>{''.join(tds)}<td>{cost}</td></tr>")
    return (
        f"<table class='compact'><tr><th>head</th>{header}<th>fit time</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def provenance_line(provenance: dict[str, Any]) -> str:
    """dataset, encoder card, store key, seeds and versions in one line."""
    card = provenance.get("encoder_card") or {}
    encoder = provenance.get("encoder") or "—"
    if card:
        weights = (card.get("weights_sha256") or "")[:12]
        encoder += f" ({card.get('output_dim')}-d, {card.get('weights')}" + (
            f", sha256 {weights}…)" if weights else ")"
        )
    versions = ", ".join(f"{k} {v}" for k, v in (provenance.get("versions") or {}).items())
    seeds = provenance.get("seeds") or provenance.get("repeats")
    parts = [
        f"dataset <b>{html.escape(str(provenance.get('dataset', '—')))}</b>",
        f"encoder {html.escape(encoder)}",
        f"store key {html.escape(str(provenance.get('store_key', '—'))[:16])}",
        f"{seeds} seeds" if "seeds" in provenance else f"{provenance.get('folds')} folds × {seeds}",
        html.escape(versions) if versions else "",
    ]
    return "<p class='provenance'>" + " · ".join(p for p in parts if p) + "</p>"
