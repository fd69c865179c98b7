"""One rule for which rows train (issue 26): eval, fit, extend, adapt, fine-tuning, the sanity
score and the audit's leak check all read `workflow.splits`. Before it, on a store without a
split, eval held out 30%, fit trained on 100% (test rows included), the adapter on every row,
and the sanity score held out every 5th row — on a store whose every 5th row was unlabelled
its test set was empty and its accuracy NaN."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from headstart import api
from headstart.exceptions import DataError
from headstart.store import write_vectors
from headstart.workflow.splits import HELD_OUT, OFFICIAL, split_rows, store_rows

adapt_module = sys.modules["headstart.api.adapt"]


def _no_split(path, n=200, unlabelled_every=5, seed=0):
    """Four classes, 8 dimensions, no split; every `unlabelled_every`-th row unlabelled."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n // 4)
    X = rng.normal(size=(n, 8)) + 3 * rng.normal(size=(4, 8))[y]
    labels = [f"c{c}" if i % unlabelled_every else None for i, c in enumerate(y)]
    return write_vectors(path, X, labels=labels, name="no-split")


def test_the_rule_keeps_test_rows_out_and_splits_the_rest_by_role():
    labels = np.array([0, 1, 0, 1, -1, 0, 1, -1, 0, 1])
    split = np.array(["train"] * 5 + ["test"] * 3 + ["val"] * 2)
    rows = split_rows(labels, split, "here")
    assert rows.rule == OFFICIAL
    assert rows.train.tolist() == [0, 1, 2, 3] and rows.test.tolist() == [5, 6]
    assert rows.unlabelled.tolist() == [4]  # the unlabelled test row is in no pool; val rows
    held = split_rows(np.repeat([0, 1], 10), None, "here")  # neither train nor test
    assert held.rule == HELD_OUT and len(held.test) == 6 and len(held.train) == 14
    assert not set(held.train) & set(held.test)
    assert held.test.tolist() == split_rows(np.repeat([0, 1], 10), None, "x").test.tolist()


def test_every_command_trains_on_the_rows_eval_trains_on(tmp_path):
    store = _no_split(tmp_path / "s")
    rule = store_rows(store)
    results = api.evaluate(store.root, ["prototype"], ["all"], 1, progress=False)
    assert results.provenance["n_train"] == len(rule.train) == 112
    model = api.fit(store.root, "prototype", tmp_path / "m")
    provenance = json.loads((model / "provenance.json").read_text())
    assert provenance["trained_rows"] == 112 and provenance["rows_rule"] == HELD_OUT
    sanity = api.nearest_class_mean_accuracy(store)
    assert (sanity["train"], sanity["test"]) == (112, 48) and np.isfinite(sanity["accuracy"])


def test_an_adapter_learns_from_training_rows_and_the_unlabelled_pool_only(tmp_path, monkeypatch):
    store = _no_split(tmp_path / "s")
    seen = {}

    def record(X, labels, *args, **kwargs):
        seen["X"], seen["labels"] = X.copy(), labels.copy()
        raise KeyboardInterrupt  # what it was handed is all this test needs

    monkeypatch.setattr(adapt_module, "fit_adapter", record)
    with pytest.raises(KeyboardInterrupt):
        api.adapt(store.root, tmp_path / "a", api.AdaptSettings(batch_size=32), progress=False)
    rule = store_rows(store, classes=0)
    expected = store.vectors()[rule.learning()]
    np.testing.assert_array_equal(seen["X"], expected)
    assert len(seen["X"]) == 112 + 40 and (seen["labels"] == -1).sum() == 40
    test_vectors = {row.tobytes() for row in store.vectors()[rule.test]}
    assert not test_vectors & {row.tobytes() for row in seen["X"]}  # no test row reaches it


def test_fit_all_rows_is_the_explicit_opt_out_and_says_so(tmp_path):
    store = _no_split(tmp_path / "s")
    model = api.fit(store.root, "gda", tmp_path / "m", all_rows=True, reject="mls")
    provenance = json.loads((model / "provenance.json").read_text())
    assert provenance["trained_rows"] == 160 and provenance["all_rows"] is True
    assert "none held out" in provenance["rows_rule"]


def test_extend_adds_one_class_from_its_training_rows(tmp_path):
    base = _no_split(tmp_path / "base", unlabelled_every=1000)
    model = api.fit(base.root, "prototype", tmp_path / "m")
    rng = np.random.default_rng(5)
    new = write_vectors(
        tmp_path / "new", rng.normal(size=(10, 8)) + 9.0, labels=["late"] * 10, name="no-split"
    )
    api.extend(model, new.root)
    provenance = json.loads((model / "provenance.json").read_text())
    assert provenance["class_names"][-1] == "late"
    assert provenance["extended_with"][0]["rows"] == 7  # 3 of 10 held out by the rule
    with pytest.raises(DataError, match="need at least 4"):
        tiny = write_vectors(tmp_path / "tiny", np.ones((3, 8)), labels=["x"] * 3, name="no-split")
        api.extend(model, tiny.root, tmp_path / "m2")
    api.extend(model, tiny.root, tmp_path / "m3", all_rows=True)  # the opt-out takes all three


def test_the_audit_reports_a_duplicate_across_evals_holdout_as_a_leak(tmp_path):
    """Without a split the audit saw no train/test leak at all; eval's holdout has one."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    X = rng.normal(size=(60, 8)) + 4 * rng.normal(size=(3, 8))[y]
    probe = write_vectors(tmp_path / "probe", X, labels=[f"c{c}" for c in y], name="p")
    rule = store_rows(probe)
    X[rule.test[0]] = X[rule.train[0]]  # a training item copied into the held-out 30%
    store = write_vectors(tmp_path / "s", X, labels=[f"c{c}" for c in y], name="p")
    audit = api.audit(store.root, tmp_path / "audit", progress=False)
    assert audit.summary["train_test_leaks"] >= 1
