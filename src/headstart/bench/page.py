"""The bench's report: one HTML page that opens with a sentence per task, then the encoder ×
task table, the critical-difference diagrams, the encoder × dataset heat maps, the failed
cells with their reasons, and per dataset the sections `headstart report` writes for a store.
It checks its own figures on load as the eval report does (`data-figures-ok`)."""

from __future__ import annotations

import html
import json
from typing import Any

from headstart.bench.cells import DONE
from headstart.bench.figures import cd_diagram, heat_map, shift_scatter
from headstart.bench.leaderboard import ALPHA, TaskBoard
from headstart.bench.robustness import corruption_points, effective_robustness
from headstart.bench.run import BenchRun
from headstart.protocol import Results
from headstart.report.html import SELF_CHECK, STYLE, figure_html, store_section
from headstart.report.selector import SCRIPT

PAIRING = (
    "Within a dataset, encoders whose stores hold the same items (ids, labels, splits) are "
    "compared on identical samples: the same k-shot draws, queries and folds per seed; "
    "'not distinguishable' means the paired 95% t interval of the difference to the best "
    "includes 0. Stores whose items differ are never paired."
)


def render_leaderboard(run: BenchRun, boards: list[TaskBoard]) -> str:
    suite = run.suite
    encoders = [e.label for e in suite.encoders]
    datasets = [d.label for d in suite.datasets]
    title = f"headstart bench: {suite.name}"
    parts = [f"<h1>{html.escape(title)}</h1><section id='leaderboard'>"]
    parts.append(
        "<ul class='verdicts'>"
        + "".join(f"<li>{html.escape(b.sentence())}</li>" for b in boards)
        + "</ul>"
    )
    parts.append(_encoder_task_table(boards, encoders))
    adapted = [e for e in suite.encoders if e.adapter]
    if adapted:
        names = ", ".join(f"{e.label} ({e.adapter['loss']})" for e in adapted)
        parts.append(
            f"<p class='method'>Adapted encoders — {html.escape(names)} — train their adapter "
            "on every labelled training row of each dataset: their few-shot scores rest on "
            "more labels than the shot count says, unlike the frozen encoders'.</p>"
        )
    parts.append(
        f"<p class='method'>Mean: over datasets of each dataset's mean over seeds (95% t "
        f"interval over datasets). Rank 1 is best within a dataset; the average rank is "
        f"taken over the datasets every encoder finished. With ≥ 3 datasets and ≥ 3 "
        f"encoders: Friedman's test and Nemenyi's critical difference at α = {ALPHA} "
        f"(Demšar 2006). {html.escape(PAIRING)}</p></section>"
    )
    for board in boards:
        parts.append(_task_section(board, encoders, datasets))
    parts.append(_failures(run))
    parts.append(_robustness(run))
    parts.append(_datasets(run, boards))
    parts.append("<details><summary>Suite (JSON)</summary>")
    parts.append(f"<pre>{html.escape(json.dumps(suite.describe(), indent=1, default=str))}")
    parts.append("</pre></details>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{STYLE}</style><script>{SELF_CHECK}{SCRIPT}</script></head>"
        f"<body>{''.join(parts)}</body></html>"
    )


def _encoder_task_table(boards: list[TaskBoard], encoders: list[str]) -> str:
    head = "".join(f"<th>{html.escape(b.task)}<br><small>{b.metric}</small></th>" for b in boards)
    rows = []
    for encoder in encoders:
        cells = []
        for board in boards:
            found = next((r for r in board.overall if r["encoder"] == encoder), None)
            if found is None:
                cells.append("<td>—</td>")
                continue
            best = board.overall and board.overall[0]["encoder"] == encoder
            tied = encoder in (board.friedman.get("tied_with_best") or [])
            css = " class='best'" if best else " class='tie'" if tied else ""
            cells.append(
                f"<td{css}>{found['mean']:.3f}<br><small>rank {found['average_rank']:.2f}"
                "</small></td>"
            )
        rows.append(f"<tr><td>{html.escape(encoder)}</td>{''.join(cells)}</tr>")
    return f"<table class='leaderboard'><tr><th>encoder</th>{head}</tr>{''.join(rows)}</table>"


def _task_section(board: TaskBoard, encoders: list[str], datasets: list[str]) -> str:
    parts = [f"<section class='task' data-task='{html.escape(board.task)}'>"]
    parts.append(f"<h2>{html.escape(board.task)} — {html.escape(board.metric)}</h2>")
    test = board.friedman
    if test.get("skipped"):
        parts.append(f"<p>No test across datasets: {html.escape(test['skipped'])}.</p>")
    elif "p_value" in test:
        parts.append(
            f"<p>Friedman χ² = {test['statistic']:.2f}, p = {test['p_value']:.3g} over "
            f"{test['datasets']} datasets; critical difference {test['critical_difference']:.2f}"
            f". {html.escape(test.get('caveat', ''))}</p>"
        )
        diagram = cd_diagram(board)
        if diagram is not None:
            parts.append(figure_html(diagram, f"critical-difference diagram — {board.task}"))
        else:
            parts.append(
                "<p>The CD diagram needs scikit-posthocs: pip install 'headstart[compare]'.</p>"
            )
    if test.get("dropped_datasets"):
        parts.append(
            "<p>Left out of ranks (an encoder did not finish there): "
            f"{html.escape(', '.join(test['dropped_datasets']))}.</p>"
        )
    if board.scores:
        parts.append(
            figure_html(heat_map(board, encoders, datasets), f"{board.task} per encoder × dataset")
        )
    for problem in board.problems:
        parts.append(f"<p class='problem'>No score: {html.escape(problem)}</p>")
    parts.append("<ul class='verdicts'>")
    for winner in board.per_dataset:
        parts.append(f"<li>{html.escape(_dataset_sentence(winner))}</li>")
    parts.append("</ul></section>")
    return "".join(parts)


def _dataset_sentence(winner: dict[str, Any]) -> str:
    words = [f"{winner['dataset']}: best {winner['best']}"]
    if winner["tied"]:
        words.append(f"not distinguishable from {', '.join(winner['tied'])}")
    if winner["untested"]:
        words.append(f"one value each, no interval, vs {', '.join(winner['untested'])}")
    if winner["unpaired"]:
        words.append(f"not paired (other items) with {', '.join(winner['unpaired'])}")
    return "; ".join(words) + "."


def _failures(run: BenchRun) -> str:
    if not run.failures:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(c.dataset)}</td><td>{html.escape(c.encoder)}</td>"
        f"<td>{html.escape(c.task)}</td><td>{html.escape(c.reason)}</td></tr>"
        for c in run.failures
    )
    return (
        f"<section id='failures'><h2>Cells that failed ({len(run.failures)})</h2><table>"
        f"<tr><th>dataset</th><th>encoder</th><th>task</th><th>reason</th></tr>{rows}</table>"
        "<p>A rerun of the same command runs these again and skips the finished ones.</p></section>"
    )


def _robustness(run: BenchRun) -> str:
    """Effective robustness per corruptions task and dataset: a table and the scatter."""
    found = corruption_points(run)
    if not found:
        return ""
    parts = [
        "<section id='robustness'><h2>Robustness to corruptions</h2><p class='method'>"
        "Effective robustness (Taori et al. 2020): an encoder's mean corruption accuracy minus "
        "what the logit-linear trend of the other encoders (at least two) predicts from its "
        "clean accuracy; positive: more robust than its clean accuracy explains.</p>"
    ]
    for (task, dataset), points in found.items():
        rows = effective_robustness(points)
        body = "".join(
            f"<tr><td>{html.escape(e)}</td><td>{r['clean']:.3f}</td><td>{r['shifted']:.3f}</td>"
            f"<td>{_number(r['predicted'])}</td><td>{_number(r['effective_robustness'], True)}"
            "</td></tr>"
            for e, r in sorted(rows.items(), key=lambda kv: -kv[1]["shifted"])
        )
        title = f"{task} · {dataset}"
        parts.append(
            f"<h3>{html.escape(title)}</h3><table><tr><th>encoder</th><th>clean</th>"
            "<th>corruptions</th><th>predicted</th><th>effective robustness</th></tr>"
            f"{body}</table>"
        )
        parts.append(
            figure_html(
                shift_scatter(rows, title),
                f"mean corruption accuracy against clean accuracy; dashed: the logit-linear "
                f"trend of all encoders — {title}",
            )
        )
    parts.append("</section>")
    return "".join(parts)


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _datasets(run: BenchRun, boards: list[TaskBoard]) -> str:
    """Per dataset and task, the eval report's sections for each encoder's store."""
    parts = ["<h2>Per dataset</h2>"]
    index = 0
    for dataset in run.suite.datasets:
        parts.append(f"<details class='dataset'><summary>{html.escape(dataset.label)}</summary>")
        for board in boards:
            cells = [
                c
                for c in run.cells
                if c.dataset == dataset.label and c.task == board.task and c.status == DONE
            ]
            for cell in cells:
                results: Results | None = cell.results
                if results is None:
                    continue
                parts.append(store_section(results, results.main_metric, None, index))
                index += 1
        parts.append("</details>")
    return "".join(parts)
