"""Protocols as registered objects: the same numbers as before the move, one provenance."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import pytest
from protocol_cases import GOLDEN, fixed_store, run_all
from sklearn.dummy import DummyClassifier
from typer.testing import CliRunner

from headstart import api
from headstart.cli import app
from headstart.cli.evaluate import eval_app, protocol_command
from headstart.exceptions import DataError
from headstart.protocol import PROTOCOLS, Results
from headstart.protocol.base import Metric, Protocol, Settings, option, register_protocol
from headstart.workflow.provenance import COMMON

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
    return run_all(tmp_path_factory.mktemp("spine"), provenance=True)


@pytest.mark.parametrize("case", list(json.loads(GOLDEN.read_text())))
def test_every_protocol_gives_the_numbers_it_gave_before_the_spine(outputs, case):
    """Rows (metric values, seeds, shots, store labels) and chosen hyper-parameters equal the
    saved outputs of the code before protocols were registered objects: a refactor that
    changed a sample, a seed or a metric fails here."""
    expected = json.loads(GOLDEN.read_text())[case]
    rows = [r for r in outputs[case]["rows"] if r["metric"] not in TIMINGS]
    _same(rows, [r for r in expected["rows"] if r["metric"] not in TIMINGS], f"{case}.rows")
    _same(outputs[case]["chosen"], expected["chosen"], f"{case}.chosen")


@pytest.mark.parametrize("case", list(json.loads(GOLDEN.read_text())))
def test_every_protocol_records_every_field_of_the_common_provenance(outputs, case):
    """Before the spine, open-set results lacked the encoder card, transforms and versions
    and incremental ones the store key: each protocol built its provenance by hand."""
    provenance = outputs[case]["provenance"]
    assert set(COMMON) <= set(provenance), sorted(set(COMMON) - set(provenance))
    assert provenance["protocol"] in PROTOCOLS
    assert provenance["versions"]["numpy"] and provenance["python"]
    if case != "mil-cv":  # a bag set has no encoder card or store key; its fingerprint it has
        assert provenance["encoder_card"]["name"] and len(provenance["store_key"]) == 64
        assert provenance["split"] in ("official split", "stratified 30% holdout (seed 0)")
    assert len(provenance["store_fingerprint"]) == 64


OTHERS = {  # a setting of another protocol, given to each protocol
    "few-shot": {"scores": ["mls"]},
    "open-set": {"label_noise": ["symmetric:0.2"]},
    "incremental": {"calibrate": True},
    "base-novel": {"transforms": ["center"]},
    "learning-curve": {"heads": ["gda"]},
    "mil-cv": {"shots": [1]},
    "knn": {"heads": ["gda"]},
    "clustering": {"shots": [1]},
    "retrieval": {"seeds": 3},
    "geometry": {"heads": ["gda"]},
    "instance-retrieval": {"seeds": 2},
    "corruptions": {"ks": [5]},
    "groups": {"severities": [1]},
}


@pytest.mark.parametrize("name", sorted(OTHERS))
def test_a_setting_a_protocol_does_not_take_is_an_error_naming_what_it_takes(name):
    """`eval --open-set --label-noise symmetric:0.9 --imbalance 50 --calibrate` wrote the
    same rows as without the last three flags; now such a setting is refused before work."""
    assert set(OTHERS) == {entry.name for entry in PROTOCOLS}  # every protocol is checked
    with pytest.raises(DataError, match=f"protocol {name!r} takes no setting"):
        PROTOCOLS.create(name).settings(**OTHERS[name])


def test_label_noise_and_calibration_compose_under_few_shot(tmp_path):
    """Label noise, a long tail and calibration together: one condition per noise setting,
    each with the calibrated metrics, and the provenance records the corruption."""
    store = fixed_store(tmp_path / "s")
    results = api.run_protocol(
        "few-shot",
        store.root,
        progress=False,
        heads=["prototype"],
        shots=[2],
        seeds=2,
        label_noise=["symmetric:0.3", "asymmetric:0.2"],
        imbalance=2.0,
        calibrate=True,
    )
    stores = results.stores()
    assert len(stores) == 2 and all("imbalance 2" in s for s in stores)
    for store_label in stores:
        metrics = {r["metric"] for r in results.rows if r["store"] == store_label}
        assert {"nll_calibrated", "ece_calibrated", "accuracy"} <= metrics
    assert results.provenance["corruption"]["label_noise"] == ["symmetric:0.3", "asymmetric:0.2"]


def test_calibration_composes_under_open_set(tmp_path):
    """Open set with calibration: the closed-set NLL/ECE of the known classes before and
    after temperature scaling, on the same seeds as the open-set metrics; without it the rows
    are those of the plain protocol."""
    store = fixed_store(tmp_path / "s")
    settings = {"heads": ["gda"], "shots": [4], "seeds": 2, "scores": ["mls"]}
    plain = api.run_protocol("open-set", store.root, progress=False, **settings)
    calibrated = api.run_protocol(
        "open-set", store.root, progress=False, calibrate=True, **settings
    )
    extra = {"nll", "ece", "nll_calibrated", "ece_calibrated"}
    assert extra <= set(calibrated.metrics()) and not extra & set(plain.metrics())
    same = [r for r in calibrated.rows if r["metric"] not in extra | {"fit_seconds"}]
    assert same == [r for r in plain.rows if r["metric"] != "fit_seconds"]
    assert calibrated.provenance["settings"]["calibrate"] is True


@dataclass
class ChanceSettings(Settings):
    strategy: str = option(
        "most_frequent", "DummyClassifier strategy", choices=("most_frequent", "uniform")
    )


class Chance(Protocol):
    """What labels alone give: scikit-learn's DummyClassifier on the training rows."""

    name = "chance"
    settings_type = ChanceSettings
    metrics = (Metric("accuracy"),)

    def total(self, settings):
        return 1

    def run(self, inputs, settings, progress=None):
        results = Results(provenance={"dataset": inputs.dataset, "store": inputs.label})
        model = DummyClassifier(strategy=settings.strategy, random_state=0)
        model.fit(inputs.X_train, inputs.y_train)
        results.add("chance", "all", 0, {"accuracy": model.score(inputs.X_test, inputs.y_test)})
        progress(1)
        return results


@pytest.fixture
def chance():
    """The protocol above registered — one class and one registry line — then removed."""
    register_protocol(Chance)
    eval_app.command("chance")(protocol_command("chance"))  # what cli/evaluate.py does
    yield
    del PROTOCOLS._entries["chance"]
    eval_app.registered_commands.pop()


def test_a_protocol_is_one_class_and_one_registry_line(chance, tmp_path):
    """Its command, options, provenance, saved results and report come from the spine."""
    store = fixed_store(tmp_path / "s")
    runner = CliRunner()
    result = runner.invoke(
        app, ["eval", "chance", str(store.root), "--strategy", "uniform", "-o", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    saved = Results.load(tmp_path / "r")
    assert set(COMMON) <= set(saved.provenance)
    assert saved.provenance["settings"] == {"strategy": "uniform"}
    assert saved.provenance["protocol"] == "chance" and saved.provenance["encoder_card"]
    refused = runner.invoke(app, ["eval", "chance", str(store.root), "--seeds", "2"])
    assert refused.exit_code != 0 and "No such option: --seeds" in refused.output
    page = api.report(tmp_path / "r", tmp_path / "report.html").read_text()
    assert "Heads fitted on" in page and "chance" in page


@pytest.mark.parametrize("name", ["few-shot", "open-set", "incremental", "base-novel"])
def test_each_protocols_help_reads_at_80_columns(name):
    """Every option of the protocol and nothing else, in lines that fit 80 columns."""
    result = CliRunner().invoke(app, ["eval", name, "--help"], env={"COLUMNS": "80"}, color=False)
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    protocol = PROTOCOLS.create(name)
    for field in dataclasses.fields(protocol.settings_type):
        flag = "--" + field.name.replace("_", "-")
        shown = flag in result.output or flag.removesuffix("s") in result.output
        assert shown == field.metadata["cli"], (name, flag)
