"""Issue 11's fuzz table (tests/fuzz_cases.py) run against a headstart source tree: counts of
outcomes per family — clear error, skipped and reported, handled correctly, or a failure
(traceback, silent wrong result, refused a valid input, other message).

Each case runs in its own process (a fresh interpreter importing the chosen source tree) with
a time limit: an invalid option that an old version accepted can start a long job, and is
counted as "accepted (still running)" — a silent wrong result. Inputs are built once per tree
by that tree's own `api`.

Run: python benchmarks/fuzz_outcomes.py [--src DIR] [--label NAME] [--timeout 60]
     e.g. git worktree add /tmp/before b66283a && \
          python benchmarks/fuzz_outcomes.py --src /tmp/before/src --label before
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
OUT = HERE / "out"

CHILD = """
import json, sys
from pathlib import Path
sys.path[:0] = [{src!r}, {tests!r}]
mode, t, x = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
if mode == "build":
    from fuzz_inputs import build_inputs
    build_inputs(t)
else:
    from fuzz_cases import CASES, outcome, run
    from headstart.cli import main
    case = CASES[int(mode)]
    code, output, raised = run(case, t, x, main)
    print("\\n@@" + json.dumps([outcome(case, code, output, raised, x), output[-300:]]))
"""


def run_child(src: str, args: list[str], timeout: float) -> tuple[str, str]:
    script = CHILD.format(src=src, tests=str(TESTS))
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "accepted (still running)", f"still running after {timeout:.0f} s"
    marker = done.stdout.rfind("\n@@")
    if marker < 0:  # the child died before reporting (a crash, not a Python exception)
        return "crash", (done.stderr or done.stdout)[-300:]
    result, output = json.loads(done.stdout[marker + 3 :])
    return result, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=str(HERE.parent / "src"))
    parser.add_argument("--label", default="now")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    from fuzz_cases import CASES, EXPECTED

    with tempfile.TemporaryDirectory() as scratch:
        inputs = Path(scratch) / "inputs"
        inputs.mkdir()
        build = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD.format(src=args.src, tests=str(TESTS)),
                "build",
                str(inputs),
                "-",
            ],
            capture_output=True,
            text=True,
        )
        if build.returncode:
            sys.exit(f"building the inputs failed:\n{build.stderr[-2000:]}")
        rows = []
        for i, case in enumerate(CASES):
            x = Path(scratch) / f"out-{i}"
            result, output = run_child(args.src, [str(i), str(inputs), str(x)], args.timeout)
            good = result == EXPECTED[case.expect]
            rows.append(
                {
                    "family": case.family,
                    "name": case.name,
                    "expect": case.expect,
                    "outcome": result,
                    "good": good,
                    "output": output,
                }
            )
            print(
                f"{'ok ' if good else 'BAD'} {case.family:17s} {case.name:28s} {result}", flush=True
            )
    by_family: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        by_family[row["family"]][row["outcome"]] += 1
    OUT.mkdir(exist_ok=True)
    path = OUT / f"fuzz_outcomes_{args.label}.json"
    path.write_text(json.dumps({"src": args.src, "rows": rows}, indent=1))
    print(f"\n{args.label}: {sum(r['good'] for r in rows)}/{len(rows)} as expected; {path}")
    for family, counts in by_family.items():
        print(f"  {family:17s} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
