"""Issue 27's acceptance suites end to end: `benchmarks/suites/images.toml` and `texts.toml`
through `api.bench`, timed four ways on this machine:

1. cold: stores embedded (or taken from the cache) and every cell run;
2. warm: the same suite into a fresh folder, every store a cache hit — the time of the cells;
3. resume: the warm folder again — every cell finished, so nothing runs but the leaderboard;
4. ray (`--ray`): the warm run with the cells as Ray tasks on this machine's cores.

The tuned MiniLM of the text suite is made first when missing (SetFit-style, 8 shots per
class of R8's training split). Results: JSON with the leaderboards, per-cell seconds and the
times; the leaderboard pages stay in the output folders.

Run: python benchmarks/representation_bench.py [--suites images,texts] [--ray]
     python benchmarks/representation_bench.py --summarise   # tables + CD diagrams of the
                                                              # warm runs, nothing rerun
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from headstart import api
from headstart.api.adapt import TuneSettings
from headstart.bench import build_boards, load_run, load_suite
from headstart.bench.figures import cd_diagram

HERE = Path(__file__).parent
TUNED = HERE / "out" / "minilm-tuned-r8"


def timed(suite: Path, out: Path, **options) -> tuple[float, api.BenchResult]:
    started = time.perf_counter()
    result = api.bench(suite, out, progress=False, **options)
    return time.perf_counter() - started, result


def cells(result: api.BenchResult) -> list[dict]:
    return [
        {
            "dataset": c.dataset,
            "encoder": c.encoder,
            "task": c.task,
            "status": c.status,
            "seconds": round(c.seconds, 3),
            "reason": c.reason,
        }
        for c in result.run.cells
    ]


def summarise(out: Path, names: list[str]) -> None:
    """Markdown tables of the warm runs' boards (encoder × task, per dataset) and their CD
    diagrams as PNGs in benchmarks/figures/ — read from the cells, nothing rerun."""
    for name in names:
        suite = load_suite(HERE / "suites" / f"{name}.toml")
        run = load_run(out / f"{name}-warm", suite)
        boards = build_boards(run.cells)
        print(f"\n### {suite.name}: mean over datasets (average rank)\n")
        print("| encoder | " + " | ".join(f"{b.task} ({b.metric})" for b in boards) + " |")
        print("|---|" + "---|" * len(boards))
        for encoder in [e.label for e in suite.encoders]:
            cells = []
            for b in boards:
                row = next((r for r in b.overall if r["encoder"] == encoder), None)
                cells.append(
                    "—" if row is None else f"{row['mean']:.3f} ({row['average_rank']:.2f})"
                )
            print(f"| {encoder} | " + " | ".join(cells) + " |")
        print()
        for b in boards:
            print(f"- {b.sentence()}")
            test = b.friedman
            if "p_value" in test:
                print(
                    f"  Friedman χ² = {test['statistic']:.2f}, p = {test['p_value']:.3g}, "
                    f"CD = {test['critical_difference']:.2f}"
                )
            png = cd_diagram(b)
            if png is not None:
                path = HERE / "figures" / f"bench_{name}_{b.task}_cd.png"
                path.write_bytes(png)
                print(f"  ![{b.task} CD diagram](figures/{path.name})")
            for problem in b.problems:
                print(f"  no score: {problem}")
        for b in boards:
            print(f"\n{b.task} per dataset ({b.metric}, mean over seeds):\n")
            print("| dataset | " + " | ".join(e.label for e in suite.encoders) + " | best |")
            print("|---|" + "---|" * (len(suite.encoders) + 1))
            for winner in b.per_dataset:
                by = b.scores[winner["dataset"]]
                values = [
                    f"{by[e.label]['mean']:.3f}" if e.label in by else "—" for e in suite.encoders
                ]
                tied = f" (ties: {', '.join(winner['tied'])})" if winner["tied"] else ""
                print(
                    f"| {winner['dataset']} | "
                    + " | ".join(values)
                    + f" | {winner['best']}{tied} |"
                )
        for cell in run.failures:
            print(f"- failed: {cell.dataset} · {cell.encoder} · {cell.task}: {cell.reason}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--suites", default="images,texts")
    parser.add_argument("--ray", action="store_true", help="also run the warm cells on Ray")
    parser.add_argument("--summarise", action="store_true", help="tables of the warm runs")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "bench", help="bench folders")
    parser.add_argument(
        "--json", type=Path, default=HERE / "runs" / "representation_bench.json", help="summary"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.suites.split(",") if n.strip()]
    if args.summarise:
        summarise(args.out, names)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"machine": platform.processor() or platform.machine(), "suites": {}}
    if "texts" in names and not TUNED.exists():
        started = time.perf_counter()
        api.tune_encoder("reuters-r8", TUNED, shots=8, settings=TuneSettings(), progress=False)
        report["tuning_seconds"] = time.perf_counter() - started
    for name in names:
        suite = HERE / "suites" / f"{name}.toml"
        found: dict = {}
        found["cold_seconds"], _ = timed(suite, args.out / f"{name}-cold")
        found["warm_seconds"], warm = timed(suite, args.out / f"{name}-warm")
        found["resume_seconds"], _ = timed(suite, args.out / f"{name}-warm")
        if args.ray:
            found["ray_seconds"], remote = timed(
                suite, args.out / f"{name}-ray", engine="ray", engine_options={"num_cpus": 2}
            )
            found["ray_equals_local"] = [
                (r["dataset"], r["encoder"], r["task"], r["metric"], round(r["value"], 9))
                for r in remote.run.rows().to_pylist()
                if r["metric"] != "fit_seconds"
            ] == [
                (r["dataset"], r["encoder"], r["task"], r["metric"], round(r["value"], 9))
                for r in warm.run.rows().to_pylist()
                if r["metric"] != "fit_seconds"
            ]
        found["cells"] = cells(warm)
        found["leaderboard"] = warm.as_dict()
        report["suites"][name] = found
        print(json.dumps({k: v for k, v in found.items() if k.endswith("seconds")}), flush=True)
        for sentence in found["leaderboard"]["sentences"]:
            print(" ", sentence, flush=True)
        args.json.write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
