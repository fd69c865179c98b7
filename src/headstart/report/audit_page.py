"""The audit's HTML page: one offline file a person scans top to bottom — what was found,
then the top suspects, duplicate groups and outliers as thumbnails (images) or snippets
(texts), then feature bias. The CSVs beside it hold every row; the page shows the first few."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from headstart.store import Store
from headstart.workflow.items import source_previews

SHOWN = 24  # suspects and outliers on the page
GROUPS_SHOWN = 12

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.grid{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #ddd;border-radius:6px;padding:6px;width:160px;font-size:12px}
.card img{width:72px;height:72px;image-rendering:pixelated;display:block;margin-bottom:4px}
.card .text{font-size:11px;color:#444;max-height:8em;overflow:hidden}
.group{border-left:3px solid #888;padding-left:8px;margin:8px 0}
.leak{border-left-color:#c0392b}.note{color:#8a6d3b;background:#fcf8e3;padding:6px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px}
"""


def _preview(previews: dict[int, str], row: int) -> str:
    value = previews.get(row)
    if value is None:
        return ""
    if value.startswith("data:image"):
        return f'<img src="{value}" alt="item">'
    return f'<div class="text">{escape(value)}</div>'


def write_audit_page(
    path: Path,
    store: Store,
    summary: dict[str, Any],
    issues: list[dict],
    groups: list[dict],
    outliers: list[dict],
) -> Path:
    """Write the page to `path`."""
    row_of = {item_id: i for i, item_id in enumerate(store.ids)}
    shown_groups = sorted({g["group"] for g in groups})[:GROUPS_SHOWN]
    wanted = [row_of[r["id"]] for r in issues[:SHOWN] + outliers[:SHOWN]]
    wanted += [row_of[g["id"]] for g in groups if g["group"] in shown_groups]
    previews, preview_note = source_previews(store, sorted(set(wanted)))
    flagged = ", ".join(f"{n}: {c}" for n, c in summary["flagged"].items()) or "not run"
    parts = [
        f"<h1>Audit of {escape(Path(summary['store']).name)}</h1>",
        f"<p>{summary['items']} items ({summary['labelled']} labelled), store key "
        f"<code>{summary['store_key'][:12]}</code>. Label errors from {summary['folds']}-fold "
        f"out-of-sample probabilities of <b>{escape(summary['head'])}</b>, split by split; "
        f"flagged per detector — {escape(flagged)}; suggestions from "
        f"<b>{escape(summary['primary'])}</b>. {summary['near_duplicate_groups']} duplicate "
        f"groups (cosine ≥ {summary['near_threshold']}; {summary['exact_duplicate_groups']} "
        f"exact), <b>{summary['train_test_leaks']}</b> crossing train and test; "
        f"{summary['outliers']} outliers within their class.</p>",
    ]
    for note in [*summary["notes"], preview_note]:
        if note:
            parts.append(f'<p class="note">{escape(note)}</p>')
    if summary.get("fixed_store"):
        parts.append(
            f"<p>Cleaned store written to <code>{escape(summary['fixed_store'])}</code>.</p>"
        )
    parts.append(f"<h2>Top suspected label errors ({len(issues)} flagged; issues.csv)</h2>")
    parts.append('<div class="grid">')
    for row in issues[:SHOWN]:
        parts.append(
            f'<div class="card">{_preview(previews, row_of[row["id"]])}<b>{escape(row["label"])}'
            f"</b> → {escape(row['suggested'])}<br>{escape(row['id'])} ({row['split']})<br>"
            f"<small>{escape(row['flagged_by'])}</small></div>"
        )
    parts.append("</div>")
    parts.append(f"<h2>Duplicate groups ({summary['near_duplicate_groups']}; duplicates.csv)</h2>")
    for number in shown_groups:
        members = [g for g in groups if g["group"] == number]
        leak = members[0]["train_test_leak"]
        parts.append(
            f'<div class="group{" leak" if leak else ""}"><b>group {number}</b> · '
            f"{members[0]['kind']}{' · train/test leak' if leak else ''}"
            '<div class="grid">'
            + "".join(
                f'<div class="card">{_preview(previews, row_of[m["id"]])}{escape(m["id"])} '
                f"({m['split']}) {escape(m['label'])}</div>"
                for m in members[:8]
            )
            + "</div></div>"
        )
    parts.append(f"<h2>Outliers within their class ({len(outliers)}; outliers.csv)</h2>")
    parts.append('<div class="grid">')
    for row in outliers[:SHOWN]:
        parts.append(
            f'<div class="card">{_preview(previews, row_of[row["id"]])}{escape(row["label"])} · '
            f"z = {row['z']}<br>{escape(row['id'])}</div>"
        )
    parts.append("</div>")
    if summary["feature_bias"]:
        parts.append(
            "<h2>Feature bias</h2><p>Share of the embedding variance each attribute explains "
            "linearly, beside how well a linear read-out recovers it (Lampinen et al.): an "
            "attribute can be fully decodable yet take little variance.</p><table><tr>"
            "<th>attribute</th><th>kind</th><th>variance explained</th><th>decodability</th>"
            "<th>chance</th></tr>"
        )
        for row in summary["feature_bias"]:
            parts.append(
                f"<tr><td>{escape(row['attribute'])}</td><td>{row['kind']}</td>"
                f"<td>{row['variance_explained']:.3f}</td><td>{row['decodability']:.3f}</td>"
                f"<td>{row['chance']:.3f}</td></tr>"
            )
        parts.append("</table>")
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>headstart audit</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    path.write_text(html, encoding="utf-8")
    return path
