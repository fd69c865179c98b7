"""One self-contained HTML report: tables, inlined PNG figures and the run's provenance.

The page checks itself when it loads: every figure must have decoded with a non-zero size and
no script error may occur; the outcome is written to `<body data-figures-ok=...>` so a
headless browser can read it (see tests/test_report.py).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv

from headstart.exceptions import DataError
from headstart.protocol import Results, protocol_of
from headstart.protocol.mil_cv import load_attention
from headstart.protocol.results import FIT_SECONDS
from headstart.report import figures, robustness_figures
from headstart.report.methods import variants_section
from headstart.report.selector import SCRIPT, selector
from headstart.report.slide_gallery import png_cell, slide_section
from headstart.report.summary import compact_table, level_name, provenance_line, verdict

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:0.5em} img{max-width:100%}
pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:12px}
td.best{background:#e6f2e6} td.tie{background:#f4f8f0} .provenance,.store{color:#555;font-size:13px}
ul.verdicts li{margin:0.3em 0} details{margin:0.8em 0} summary{cursor:pointer;color:#1f5fa8}
section.store{border-top:1px solid #ddd;margin-top:2em} svg{vertical-align:top;margin:4px}
table.compact td{white-space:nowrap;font-size:12px}
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


def figure_html(png: bytes, caption: str, store: str = "") -> str:
    data = base64.b64encode(png).decode()
    return (
        f"<figure data-store='{html.escape(store)}'><img class='figure' "
        f"alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
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


def _best_cell(results: Results, best: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The cell the selector opens on: the best head at the largest shot level it ran."""
    return (best[-1]["head"], best[-1]["shots"]) if best else None


def _csv_link(results: Results, name: str) -> str:
    """The store's rows as a downloadable CSV inside the page (no server, no file beside)."""
    buffer = io.BytesIO()
    pacsv.write_csv(results.table(), buffer)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<a download='{html.escape(name)}' href='data:text/csv;base64,{data}'>{name}</a>"


def _store_heading(results: Results, families: dict[str, str]) -> str:
    """What a store's section holds, in words: the demo's joint-space rows read as
    zero-shot and training-free heads, the others as their protocol names them."""
    kinds = {families.get(h, "other") for h in results.heads()}
    if kinds <= {"text", "adapter"}:
        encoder = results.provenance.get("encoder") or "the features"
        return html.escape(
            f"Zero-shot and training-free heads, in the joint image–text space of {encoder}"
        )
    return html.escape(protocol_of(results.provenance).heading(results.provenance))


def _open_set_figure(results: Results, overall: dict[str, Any]) -> str:
    """Histogram, ROC and accuracy–rejection curves of the best head · score pair, beside
    the other scores of the same head, at the best pair's shot level (seed 0)."""
    label, shots = results.store, overall["shots"]
    head = overall["head"].split(" · ")[0]
    cells = {
        key.rsplit("|", 2)[1]: value
        for key, value in results.open_set.items()
        if key.rsplit("|", 2)[2] == shots and key.rsplit("|", 2)[1].split(" · ")[0] == head
    }
    if overall["head"] not in cells:
        return ""
    return figure_html(
        figures.open_set_panels(
            cells, overall["head"], f"{head}, {level_name(shots)}, seed 0 — {label}"
        ),
        f"known vs held-out classes: scores, ROC and accuracy–rejection of {head}'s open-set "
        f"scores — {label}",
        label,
    )


def store_section(
    results: Results, metric: str, confusion_for: tuple[str, str] | None, index: int
) -> str:
    """Figures and detailed tables of one store (one feature space)."""
    provenance, label = results.provenance, results.store
    families = provenance.get("families", {})
    best = results.best(metric)
    title = html.escape(label)
    parts = [
        f"<section class='store' data-store='{title}'>",
        f"<h2>{_store_heading(results, families)}</h2><p class='store'>store {title}</p>",
    ]
    overall = max((b for b in best), key=lambda b: (b["shots"] != "0", b["mean"]), default=None)
    kind = protocol_of(provenance).figure
    if kind == "severity":
        parts.append(
            figure_html(
                robustness_figures.severity_curves(
                    results, f"accuracy under corruptions — {label}"
                ),
                "accuracy against corruption severity per family (mean over the family's "
                f"corruptions, thin grey: each corruption, first head) — {label}",
                label,
            )
        )
    elif kind == "groups":
        parts.append(
            figure_html(
                robustness_figures.group_bars(results, f"accuracy per group — {label}"),
                "accuracy per group, 95% CI over seeds; outlined: each head's worst group — "
                f"{label}",
                label,
            )
        )
    elif kind == "sessions":
        parts.append(
            figure_html(
                figures.session_panels(results, f"class-incremental sessions — {label}"),
                f"{provenance.get('sessions', '')}; accuracy per session, 95% CI bands — {label}",
                label,
            )
        )
    elif len(results.shots()) > 1 and overall:
        parts.append(
            figure_html(
                figures.few_shot_panels(
                    results, families, overall["head"], metric, f"{metric} vs shots — {label}"
                ),
                f"{metric} against shots per head family, 95% CI bands; grey: the best head "
                f"({overall['head']}) in every panel — {label}",
                label,
            )
        )
    else:
        parts.append(
            figure_html(
                figures.metric_bars(results),
                f"mean of every metric with its 95% CI — {label}",
                label,
            )
        )
    differences = results.against_best(metric)
    if differences:
        parts.append(
            figure_html(
                figures.difference_map(
                    differences,
                    results.heads(),
                    results.shots(),
                    f"paired difference to the best head — {label}",
                ),
                "each head minus the best head of its shot level on the same seeds; a dot: "
                f"the 95% CI excludes 0 — {label}",
                label,
            )
        )
    if results.open_set and overall:
        parts.append(_open_set_figure(results, overall))
    choice = confusion_for or _best_cell(results, best)
    parts.append(selector(results, provenance.get("class_names", []), choice))
    summary = [s for s in results.summary() if s["metric"] != FIT_SECONDS]
    parts.append(
        "<details><summary>All metrics, every head and shot level "
        f"({len(summary)} rows)</summary>"
        + _table(summary, ["head", "shots", "metric", "mean", "ci_low", "ci_high", "seeds"])
        + f"<p>Every fit's scores: {_csv_link(results, f'rows-{index}.csv')}</p></details>"
    )
    if differences:
        parts.append(
            "<details><summary>Paired differences to the best head "
            f"({len(differences)} rows)</summary>"
            + _table(
                differences,
                ["head", "reference", "shots", "mean_difference", "ci_low", "ci_high", "seeds"],
            )
            + "</details>"
        )
    parts.append("</section>")
    return "".join(parts)


def render_report(
    results: Results,
    learning_curve: Results | None = None,
    confusion_for: tuple[str, str] | None = None,
    title: str = "",
    attention: tuple[str, dict[str, Any]] | None = None,
    gallery: str = "",
) -> str:
    """The report as one HTML string: the summary first, then one section per store (and an
    attribution `gallery`, HTML, when given)."""
    metric = results.main_metric
    stores = [results.on(store) for store in results.stores()]
    parts = [f"<h1>{html.escape(title or 'headstart report')}</h1>", "<section id='summary'>"]
    parts.append("<h2>Summary: which head at which label budget</h2>")
    for mine in stores:
        best = mine.best(metric)
        if len(stores) > 1:
            heading = _store_heading(mine, mine.provenance.get("families", {}))
            parts.append(f"<h3>{heading} <small>({html.escape(mine.store)})</small></h3>")
        parts.append(provenance_line(mine.provenance))
        parts.append(
            "<ul class='verdicts'>"
            + "".join(f"<li>{verdict(b, metric)}</li>" for b in best)
            + "</ul>"
        )
        parts.append(compact_table(mine, best, metric))
        notes = _views_note(mine.provenance) + _shots_note(mine.provenance)
        if notes:
            parts.append(f"<p>{notes.lstrip('; ')}</p>")
    parts.append(
        f"<p class='method'>Intervals: 95%, {html.escape(results.interval)}; n = seeds (or "
        "folds) behind each. Not distinguishable: the paired 95% CI of the difference to the "
        "best head, over the same seeds, includes 0. Heads are compared only within a store "
        "(the same features).</p></section>"
    )
    parts.append(variants_section(results))
    for index, mine in enumerate(stores):
        parts.append(store_section(mine, metric, confusion_for, index))
    if attention is not None:
        model, arrays = attention
        parts.append(f"<h2>Attention of {html.escape(model)} on held-out bags</h2>")
        parts.append(
            figure_html(
                figures.bag_attention(arrays, f"{model}: attention per instance"),
                "fitted on the training side of the first fold; red: positive instances — "
                + results.store,
                results.store,
            )
        )
    parts.append(gallery)
    if learning_curve is not None:
        names = results.provenance.get("class_names", [])
        parts.append("<h2>Naive Bayes vs logistic regression: learning curves</h2>")
        n_classes = len(learning_curve.provenance.get("class_names", [])) or len(names) or 1
        parts.append(
            figure_html(
                figures.learning_curves(learning_curve, n_classes),
                f"test error vs training size — {learning_curve.store}",
                learning_curve.store,
            )
        )
    parts.append("<details><summary>Provenance (JSON)</summary>")
    parts.append(f"<pre>{html.escape(json.dumps(results.provenance, indent=1, default=str))}")
    parts.append("</pre></details>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(title or 'headstart report')}</title><style>{STYLE}</style>"
        f"<script>{SELF_CHECK}{SCRIPT}</script></head><body>{''.join(parts)}</body></html>"
    )


def attribution_gallery(folder: str | Path) -> str:
    """The heat maps `headstart explain` wrote to `folder`, inlined: one row per image, one
    column per method."""
    folder = Path(folder)
    index = folder / "explanations.json"
    if not index.is_file():
        raise DataError(
            f"{folder} holds no explanations.json; write one with headstart explain MODEL "
            "IMAGES -o FOLDER"
        )
    record = json.loads(index.read_text())
    methods = [str(m) for m in record.get("methods", [])]
    rows = []
    for image in record.get("images", []):
        cells = []
        for method in methods:
            path = folder / Path(str(image["maps"][method])).name  # inside the folder only
            cells.append(png_cell(path, method))
        caption = (
            f"{html.escape(Path(image['image']).name)}<br>{html.escape(str(image['predicted']))}"
            f" ({float(image['probability']):.2f})"
        )
        rows.append(f"<tr><td>{caption}</td>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(m)}</th>" for m in methods)
    return (
        "<section id='attributions'><h2>What the model looks at</h2><p class='method'>"
        f"Input attributions of the predicted class of {html.escape(str(record.get('model')))}"
        " through its encoder (captum); each cell: the image as the encoder sees it and the "
        "magnitude of the attribution over it.</p>"
        f"<table><tr><th>image</th>{head}</tr>{''.join(rows)}</table></section>"
    )


def write_report(
    results_dir: str | Path,
    out: str | Path,
    learning_curve_dir: str | Path | None = None,
    confusion_for: tuple[str, str] | None = None,
    explanations: str | Path | None = None,
    slides: str | Path | None = None,
) -> Path:
    """Read saved results (and optional learning-curve results, `headstart explain` heat maps
    and `headstart slides heatmap` slides), write the HTML file."""
    results = Results.load(results_dir)
    curve = Results.load(learning_curve_dir) if learning_curve_dir else None
    if curve is not None and protocol_of(curve.provenance).name != "learning-curve":
        raise DataError(
            f"{learning_curve_dir} holds {protocol_of(curve.provenance).name} results, not a "
            "learning curve; write one with headstart eval learning-curve STORE -o FOLDER"
        )
    attention = load_attention(results_dir)
    out = Path(out)
    title = f"headstart: {results.provenance.get('dataset', '')}"
    gallery = attribution_gallery(explanations) if explanations else ""
    gallery += slide_section(slides) if slides else ""
    out.write_text(render_report(results, curve, confusion_for, title, attention, gallery))
    return out
