"""Groups and spurious correlations (issue 28): per-group and worst-group accuracy against an
independent computation, DFR and group reweighting against scikit-learn, the Colored set's
shortcut, DFR above the plain probe on it, and clear errors for bad groups files."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from headstart import api
from headstart.datasets import load_dataset
from headstart.exceptions import DataError
from headstart.heads import DFR, GroupReweighted, LinearProbe
from headstart.store import write_vectors
from headstart.workflow.splits import train_test_rows


def spurious(n: int = 400, rate: float = 0.9, seed: int = 0):
    """Two classes; feature 0 the (noisy) core signal, feature 1 a spurious one that agrees
    with the class in `rate` of the rows; groups class × spurious sign."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    agree = rng.random(n) < rate
    spur = np.where(agree, y, 1 - y)
    X = np.column_stack([y + rng.normal(0, 0.6, n), 2 * spur + rng.normal(0, 0.1, n)])
    X = np.column_stack([X, rng.normal(size=(n, 3))])
    groups = np.array([f"{a}|{b}" for a, b in zip(y, spur, strict=True)])
    return X, y, groups


def test_dfr_equals_l1_logistic_regression_when_groups_are_balanced():
    """With equal groups every balanced subsample is every row, so the 20 averaged retrains
    are one L1 logistic regression on standardised rows."""
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 0, 1], 30)
    groups = np.repeat(["a", "b", "c", "d"], 30)
    X = rng.normal(size=(120, 6)) + y[:, None] * 0.8
    head = DFR(Cs=(0.3,)).fit(X, y, groups=groups)
    reference = make_pipeline(
        StandardScaler(), LogisticRegression(l1_ratio=1.0, C=0.3, solver="liblinear")
    ).fit(X, y)
    test = rng.normal(size=(50, 6))
    np.testing.assert_allclose(head.predict_proba(test), reference.predict_proba(test), atol=1e-4)
    assert head.C_ == 0.3


def test_dfr_tunes_c_by_worst_group_accuracy_on_the_held_half():
    X, y, groups = spurious()
    head = DFR().fit(X, y, groups=groups)
    order = np.random.default_rng(0).permutation(len(y))  # the head's first draw
    held = order[: len(y) // 2]
    assert head.C_ in DFR().Cs and len(held) == 200
    with pytest.raises(ValueError, match="learns from the group of each row"):
        DFR().fit(X, y)
    with pytest.raises(ValueError, match="does not learn from groups"):
        LinearProbe().fit(X, y, groups=groups)


def test_group_reweighting_equals_weighted_logistic_regression():
    X, y, groups = spurious()
    counts = {g: (groups == g).sum() for g in set(groups)}
    weights = np.array([len(y) / (len(counts) * counts[g]) for g in groups])
    reference = LogisticRegression(C=1.0, max_iter=1000).fit(X, y, sample_weight=weights)
    head = GroupReweighted().fit(X, y, groups=groups)
    np.testing.assert_allclose(head.predict_proba(X), reference.predict_proba(X), atol=1e-6)


def test_dfr_and_reweighting_raise_worst_group_accuracy_on_a_spurious_feature():
    X, y, groups = spurious(800)
    X_test, y_test, g_test = spurious(800, rate=0.5, seed=1)

    def worst(model, **fit):
        predicted = model.fit(X, y, **fit).predict(X_test)
        return min(np.mean(predicted[g_test == g] == y_test[g_test == g]) for g in set(g_test))

    plain = worst(LogisticRegression())
    assert worst(DFR(), groups=groups) > plain + 0.1
    assert worst(GroupReweighted(), groups=groups) > plain + 0.1


@pytest.fixture
def grouped_store(tmp_path):
    X, y, groups = spurious(300)
    split = np.where(np.arange(300) < 200, "train", "test")
    store = write_vectors(
        tmp_path / "s", X, labels=y, split=split, groups=groups, ids=[f"i{k}" for k in range(300)]
    )
    return store, groups


def test_group_metrics_equal_an_independent_computation(grouped_store, tmp_path):
    store, groups = grouped_store
    results = api.run_protocol(
        "groups", store.root, progress=False, heads=["linear-probe"], seeds=1, min_group=5
    )
    train, test, _ = train_test_rows(store)
    X, y = store.vectors(), store.labels
    predicted = LinearProbe().fit(X[train], y[train]).predict(X[test])
    by_group = {
        g: np.mean(predicted[groups[test] == g] == y[test][groups[test] == g])
        for g in np.unique(groups[test])
        if (groups[test] == g).sum() >= 5
    }
    values = {r["metric"]: r["value"] for r in results.rows}
    for g, accuracy in by_group.items():
        assert values[f"accuracy/group={g}"] == pytest.approx(accuracy)
    assert values["worst_group_accuracy"] == pytest.approx(min(by_group.values()))
    assert values["group_gap"] == pytest.approx(max(by_group.values()) - min(by_group.values()))
    small = {g for g in np.unique(groups[test]) if (groups[test] == g).sum() < 5}
    assert set(results.provenance["too_small"]) == {f"group={g}" for g in small}

    # a groups file with two attributes, crossed with the class
    ids = store.ids
    lines = ["id,parity,half"] + [
        f"{i},{k % 2},{'a' if k < 150 else 'b'}" for k, i in enumerate(ids)
    ]
    (tmp_path / "g.csv").write_text("\n".join(lines) + "\n")
    crossed = api.run_protocol(
        "groups",
        store.root,
        progress=False,
        heads=["prototype"],
        seeds=1,
        groups=str(tmp_path / "g.csv"),
        by_class=True,
        min_group=1,
    )
    names = {r["metric"] for r in crossed.rows if r["metric"].startswith("accuracy/")}
    assert names == {f"accuracy/parity={c}|{p}" for c in ("0", "1") for p in "01"} | {
        f"accuracy/half={c}|b" for c in ("0", "1")
    }


def test_bad_groups_files_and_heads_are_refused(grouped_store, tmp_path):
    store, _ = grouped_store
    ids = store.ids

    def run(text: str, **more):
        (tmp_path / "g.csv").write_text(text)
        settings = dict(heads=["prototype"], seeds=1, groups=str(tmp_path / "g.csv"))
        return api.run_protocol("groups", store.root, progress=False, **{**settings, **more})

    with pytest.raises(DataError, match="misses 100 test items"):
        run("id,a\n" + "".join(f"{i},x\n" for i in ids[:200]))
    with pytest.raises(DataError, match=r"names 1 ids .*'ghost'"):
        run("id,a\n" + "".join(f"{i},x\n" for i in ids) + "ghost,x\n")
    with pytest.raises(DataError, match="misses 200 training items"):
        run("id,a\n" + "".join(f"{i},x\n" for i in ids[200:]), heads=["dfr"])
    with pytest.raises(DataError, match="has no 'a'"):
        run("id,a\n" + "".join(f"{i},{'' if i == ids[5] else 'x'}\n" for i in ids))
    with pytest.raises(DataError, match="does not exist"):
        api.run_protocol("groups", store.root, progress=False, groups=str(tmp_path / "no.csv"))
    plain = write_vectors(tmp_path / "p", np.eye(4)[np.arange(40) % 4], labels=np.arange(40) % 2)
    with pytest.raises(DataError, match="no group column"):
        api.run_protocol("groups", plain.root, progress=False, heads=["prototype"])
    with pytest.raises(DataError, match="under the groups protocol"):
        api.run_protocol("few-shot", store.root, progress=False, heads=["dfr"], shots=[2])


def test_the_colored_set_has_its_shortcut_and_dfr_beats_the_plain_probe_on_it(tmp_path):
    data = load_dataset("colored-mnist", train_rate=0.9, test_rate=0.5)
    train, test = data.split == "train", data.split == "test"
    colour = np.array([g.split("|")[1] for g in data.groups])
    matches = (colour == "green") == (data.labels == 1)
    assert abs(matches[train].mean() - 0.9) < 0.02 and abs(matches[test].mean() - 0.5) < 0.04
    red = data.items[colour == "red"].reshape(-1, 3).astype(int)
    assert (red[:, 0] >= red[:, 1]).all() and red[:, 0].max() > 200  # strokes painted red
    store = api.embed(data, "raw-pixels", tmp_path / "cm", progress=False).store
    results = api.run_protocol(
        "groups", store.root, progress=False, heads=["linear-probe", "dfr"], shots=[300], seeds=3
    )
    difference = results.difference(
        "dfr", "linear-probe", 300, "worst_group_accuracy", results.store
    )
    assert difference["mean_difference"] > 0.05 and difference["ci_low"] > 0
