"""Issue 24: few-shot class-incremental sessions with TEEN as the paper sets it, beside our
variant, plain prototypes and streaming GDA, scored per item and per class.

The stores and session specs of `open_set.py` part B: Fashion-MNIST (EfficientNet-Lite0,
5 base classes, 5 sessions of 1-way 5-shot) and 20 Newsgroups (MiniLM, 10 base, 5 × 2-way
5-shot), `--limit` items per split. Heads: `teen` (official: normalised raw means, α = 0.5),
`teen-auto` (ours, the default before issue 24: means of unit features, α chosen on
base-class pseudo-sessions), `prototype`, `gda` (streaming). For the last session: accuracy
on new and base classes and their harmonic mean, per item and as the mean of per-class
accuracies (the official TEEN protocol's seen / unseen accuracy), mean and 95% CI over seeds.

Run: python benchmarks/fscil_sessions.py [--stores DIR --limit 1500 --seeds 10]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from headstart import api
from headstart.heads import create_head
from headstart.protocol.incremental import evaluate_incremental
from headstart.store import Store
from headstart.workflow.splits import train_test

HERE = Path(__file__).parent
SESSIONS = {
    "fashion-mnist": ("efficientnet-lite0", "5:1:5"),
    "20newsgroups": ("minilm", "10:2:5"),
}
METRICS = [
    f"{metric}{suffix}"
    for suffix in ("", "_per_class")
    for metric in ("accuracy_new", "accuracy_base", "harmonic_mean")
]


def heads() -> dict:
    return {
        "teen": create_head("teen"),
        "teen-auto": create_head("teen", alpha="auto", mean="unit"),
        "prototype": create_head("prototype"),
        "gda": create_head("gda", streaming=True),
    }


def run(store: Path, spec: str, seeds: int) -> dict:
    X_train, y_train, X_test, y_test, _ = train_test(Store(store))
    results = evaluate_incremental(X_train, y_train, X_test, y_test, heads(), spec, seeds)
    last = results.shots()[-1]
    out: dict = {"spec": spec, "last": last, "heads": {}}
    for s in results.summary():
        if s["shots"] == last and s["metric"] in METRICS:
            cell = [s["mean"], s["ci_low"], s["ci_high"]]
            out["heads"].setdefault(s["head"], {})[s["metric"]] = cell
    out["teen_auto_alpha"] = [c["alpha"] for c in results.chosen if c["head"] == "teen-auto"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=Path, default=Path("/tmp/headstart-bench-stores"))
    parser.add_argument("--limit", type=int, default=1500)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "fscil_sessions.json")
    parser.add_argument("--only", choices=list(SESSIONS), help="run one dataset, keep the rest")
    args = parser.parse_args()
    report = json.loads(args.out.read_text()) if args.only and args.out.is_file() else {}
    for name, (encoder, spec) in SESSIONS.items():
        if args.only not in (None, name):
            continue
        store = args.stores / f"{name}-{encoder}-{args.limit}"
        api.embed(api.prepare_dataset(name, limit=args.limit), encoder, store, progress=False)
        report[name] = run(store, spec, args.seeds)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))  # after each dataset
        print(json.dumps({name: report[name]}), flush=True)


if __name__ == "__main__":
    main()
