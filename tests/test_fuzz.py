"""Issue 11's fuzz table (tests/fuzz_cases.py): every bad or odd input gets exactly what its
row expects — one clear error line with the right exit code, skipped items reported, or a
correct result — and never a traceback or a silent wrong result."""

from __future__ import annotations

import pytest
from fuzz_cases import CASES, EXPECTED, outcome, run
from fuzz_inputs import build_inputs

from headstart.cli import main


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return build_inputs(tmp_path_factory.mktemp("fuzz"))


def test_the_table_is_large_and_its_names_unique():
    assert len(CASES) >= 120
    assert len({(c.family, c.name) for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.family}:{c.name}" for c in CASES])
def test_fuzz_case(case, inputs, tmp_path):
    x = tmp_path / "out"
    code, output, raised = run(case, inputs, x, main)
    assert outcome(case, code, output, raised, x) == EXPECTED[case.expect], (code, output)
