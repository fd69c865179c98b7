"""One self-contained HTML report: tables, inlined PNG figures and the run's provenance.

The page checks itself when it loads: every figure must have decoded with a non-zero size and
no script error may occur; the outcome is written to `<body data-figures-ok=...>` so a
headless browser can read it (see tests/test_report.py).
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from headstart.protocol import Results
from headstart.protocol.mil_cv import load_attention
from headstart.report import figures

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:0.5em} img{max-width:100%}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}
"""

SELF_CHECK = """
window.headstartErrors = [];
window.addEventListener('error', e => window.headstartErrors.push(String(e.message)));
window.addEventListener('load', () => {
  const images = Array.from(document.querySelectorAll('img.figure'));
  const bad = images.filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0));
  document.body.dataset.figures = String(images.length);
  document.body.dataset.figuresOk = String(images.length - bad.length);
  document.body.dataset.errors = String(window.headstartErrors.length);
});
"""


def _views_note(provenance: dict) -> str:
    """Which heads were fitted on augmented support views (empty when the store has none)."""
    if provenance.get("views", 1) <= 1:
        return ""
    using = ", ".join(provenance.get("heads_using_views", [])) or "none"
    return (
        f"; {provenance['views']} views per support item (plain + augmented) used by: "
        f"{html.escape(using)}; other heads see the plain rows"
    )


def _shots_note(provenance: dict) -> str:
    """Which classes had fewer training items than a shot level, and what was done."""
    short = provenance.get("short_classes") or {}
    if not short:
        return ""
    policy = provenance.get("shots_policy", "error")
    what = {"up-to": "used all of their items", "drop": "were left out of that level"}
    levels = "; ".join(f"{level} shots: {', '.join(names)}" for level, names in short.items())
    return f"; classes below a shot level ({html.escape(levels)}) {what.get(policy, policy)}"


def _img(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode()
    return (
        f'<figure><img class="figure" alt="{html.escape(caption)}" '
        f'src="data:image/png;base64,{data}"><figcaption>{html.escape(caption)}'
        "</figcaption></figure>"
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _pick_confusion(results: Results, choice: tuple[str, str] | None) -> str | None:
    if choice and f"{choice[0]}|{choice[1]}" in results.confusion:
        return f"{choice[0]}|{choice[1]}"
    if not results.confusion:
        return None
    summary = {
        (s["head"], s["shots"]): s["mean"] for s in results.summary() if s["metric"] == "accuracy"
    }
    return max(results.confusion, key=lambda k: summary.get(tuple(k.split("|")), -1.0))


def render_report(
    results: Results,
    learning_curve: Results | None = None,
    confusion_for: tuple[str, str] | None = None,
    title: str = "",
    attention: tuple[str, dict[str, Any]] | None = None,
) -> str:
    """The report as one HTML string."""
    names = results.provenance.get("class_names", [])
    parts = [f"<h1>{html.escape(title or 'headstart report')}</h1>"]
    provenance = results.provenance
    interval = results.interval
    parts.append(
        f"<p>dataset <b>{html.escape(str(provenance.get('dataset')))}</b>, encoder "
        f"<b>{html.escape(str(provenance.get('encoder')))}</b>, "
        f"{provenance.get('seeds')} seeds, split: "
        f"{html.escape(str(provenance.get('split', '')))}" + _views_note(provenance) + "</p>"
    )
    if provenance.get("kind") == "mil-cross-validation":
        parts.append("<h2>Cross-validated MIL models</h2>")
        parts.append(_img(figures.metric_bars(results), f"mean over folds, 95% CI: {interval}"))
        if attention is not None:
            model, arrays = attention
            parts.append(f"<h2>Attention of {html.escape(model)} on held-out bags</h2>")
            parts.append(
                _img(
                    figures.bag_attention(arrays, f"{model}: attention per instance"),
                    "fitted on the training side of the first fold; red: positive instances",
                )
            )
    else:
        parts.append("<h2>Few-shot accuracy</h2>")
        parts.append(_img(figures.few_shot_curves(results), "accuracy vs shots, 95% CI bands"))
    summary = results.summary()
    parts.append(f"<p>Intervals: {html.escape(interval)}.</p>")
    parts.append(
        _table(
            [s for s in summary if s["metric"] == "accuracy"],
            ["head", "shots", "mean", "ci_low", "ci_high", "seeds"],
        )
    )
    reference = results.heads()[0] if results.heads() else None
    if reference:
        parts.append(f"<h2>Paired differences against {html.escape(reference)}</h2>")
        parts.append(
            "<p>Same seeds, same training items; a CI excluding 0 is a difference the "
            "seeds support.</p>"
        )
        parts.append(
            _table(
                results.paired(reference),
                ["head", "shots", "mean_difference", "ci_low", "ci_high", "seeds"],
            )
        )
    parts.append("<h2>All metrics</h2>")
    parts.append(_table(summary, ["head", "shots", "metric", "mean", "ci_low", "ci_high"]))
    key = _pick_confusion(results, confusion_for)
    if key:
        head, shots = key.split("|")
        parts.append(f"<h2>{html.escape(head)} at {html.escape(shots)} shots (seed 0)</h2>")
        parts.append(
            _img(
                figures.confusion(
                    results.confusion[key], names, f"confusion: {head}, {shots} shots"
                ),
                "confusion matrix (rows normalised)",
            )
        )
        parts.append(
            _img(
                figures.reliability(
                    results.reliability[key], f"reliability: {head}, {shots} shots"
                ),
                "reliability diagram",
            )
        )
    if learning_curve is not None:
        parts.append("<h2>Naive Bayes vs logistic regression: learning curves</h2>")
        n_classes = len(learning_curve.provenance.get("class_names", [])) or len(names) or 1
        parts.append(
            _img(figures.learning_curves(learning_curve, n_classes), "test error vs training size")
        )
    parts.append("<h2>Provenance</h2>")
    parts.append(f"<pre>{html.escape(json.dumps(provenance, indent=1, default=str))}</pre>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(title or 'headstart report')}</title><style>{STYLE}</style>"
        f"<script>{SELF_CHECK}</script></head><body>{''.join(parts)}</body></html>"
    )


def write_report(
    results_dir: str | Path,
    out: str | Path,
    learning_curve_dir: str | Path | None = None,
    confusion_for: tuple[str, str] | None = None,
) -> Path:
    """Read saved results (and optional learning-curve results), write the HTML file."""
    results = Results.load(results_dir)
    curve = Results.load(learning_curve_dir) if learning_curve_dir else None
    attention = load_attention(results_dir)
    out = Path(out)
    title = f"headstart: {results.provenance.get('dataset', '')}"
    out.write_text(render_report(results, curve, confusion_for, title, attention))
    return out
