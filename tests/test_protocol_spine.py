"""Protocols as registered objects: the same numbers as before the move, one provenance."""

from __future__ import annotations

import json
import math

import pytest
from protocol_cases import GOLDEN, run_all

TIMINGS = {"fit_seconds"}


def _same(found, expected, where: str) -> None:
    """Equal, floats to 1e-6 relative (another machine's BLAS may differ in the last bits)."""
    if isinstance(expected, float) and isinstance(found, float | int):
        assert math.isclose(found, expected, rel_tol=1e-6, abs_tol=1e-9) or (
            math.isnan(found) and math.isnan(expected)
        ), f"{where}: {found} != {expected}"
    elif isinstance(expected, dict):
        assert set(found) == set(expected), f"{where}: keys {sorted(found)} != {sorted(expected)}"
        for key in expected:
            _same(found[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(found) == len(expected), f"{where}: {len(found)} != {len(expected)} items"
        for i, (a, b) in enumerate(zip(found, expected, strict=True)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert found == expected, f"{where}: {found!r} != {expected!r}"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    return run_all(tmp_path_factory.mktemp("spine"))


@pytest.mark.parametrize("case", list(json.loads(GOLDEN.read_text())))
def test_every_protocol_gives_the_numbers_it_gave_before_the_spine(outputs, case):
    """Rows (metric values, seeds, shots, store labels) and chosen hyper-parameters equal the
    saved outputs of the code before protocols were registered objects: a refactor that
    changed a sample, a seed or a metric fails here."""
    expected = json.loads(GOLDEN.read_text())[case]
    rows = [r for r in outputs[case]["rows"] if r["metric"] not in TIMINGS]
    _same(rows, [r for r in expected["rows"] if r["metric"] not in TIMINGS], f"{case}.rows")
    _same(outputs[case]["chosen"], expected["chosen"], f"{case}.chosen")
