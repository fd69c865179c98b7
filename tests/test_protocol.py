"""The few-shot protocol: sampling, metrics, intervals, and freedom from test-label leaks."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score, log_loss

from headstart.exceptions import DataError
from headstart.heads import HEADS, create_head
from headstart.heads.tags import head_tags
from headstart.protocol import (
    Results,
    classification_metrics,
    evaluate_few_shot,
    k_shot_indices,
    mean_ci,
    parse_shots,
)

QUICK = {"linear-probe": {"Cs": (0.1, 1.0, 10.0)}, "linear-svm": {"Cs": (0.1, 1.0, 10.0)}}


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(3, 10)) * 1.5
    y_train, y_test = np.repeat(np.arange(3), 20), np.repeat(np.arange(3), 30)
    X_train = centers[y_train] + rng.normal(size=(60, 10))
    X_test = centers[y_test] + rng.normal(size=(90, 10))
    return X_train, y_train, X_test, y_test, centers  # the centres serve as class "texts"


def test_k_shot_sampling():
    y = np.repeat(np.arange(3), 10)
    index = k_shot_indices(y, 4, seed=0)
    assert np.bincount(y[index]).tolist() == [4, 4, 4]
    assert (k_shot_indices(y, 4, 0) == index).all() and (k_shot_indices(y, 4, 1) != index).any()
    with pytest.raises(DataError, match="class 2 has 1 training items, fewer than the 4 shots"):
        k_shot_indices(np.array([0] * 5 + [1] * 5 + [2]), 4, 0)
    assert parse_shots("1, 2,all") == [1, 2, "all"]
    assert parse_shots("0,all") == [0, "all"] and len(k_shot_indices(y, 0, 0)) == 0
    with pytest.raises(DataError, match="integers ≥ 0 or 'all'"):
        parse_shots("1,-1")


def test_long_tailed_classes_are_checked_for_every_level_before_any_work():
    """Issue 11: `--shots 1,4,16,all` ran the 1-shot level, then stopped naming class "2"
    by index. Now every level is checked first, classes are named with their counts, and
    `up-to` / `drop` say what to do instead; the provenance records it."""
    from headstart.heads import create_head
    from headstart.protocol import evaluate_few_shot

    rng = np.random.default_rng(0)
    y = np.array([0] * 20 + [1] * 20 + [2] * 3)
    X = rng.normal(size=(len(y), 4)) + y[:, None] * 2.0
    X_test, y_test = X.copy(), y.copy()
    heads = {"prototype": create_head("prototype")}
    names = ["ant", "bee", "emu"]
    with pytest.raises(DataError, match=r"4 shots: 'emu' \(3\); 16 shots: 'emu' \(3\)"):
        evaluate_few_shot(X, y, X_test, y_test, heads, (1, 4, 16), 2, class_names=names)
    up_to = evaluate_few_shot(
        X, y, X_test, y_test, heads, (4,), 2, class_names=names, shots_policy="up-to"
    )
    assert up_to.provenance["short_classes"] == {"4": ["emu"]}
    from headstart.report.html import _shots_note

    assert "4 shots: emu) used all of their items" in _shots_note(up_to.provenance)
    assert np.bincount(y[k_shot_indices(y, 4, 0, "up-to")]).tolist() == [4, 4, 3]
    dropped = evaluate_few_shot(
        X, y, X_test, y_test, heads, (4,), 2, class_names=names, shots_policy="drop"
    )
    assert np.bincount(y[k_shot_indices(y, 4, 0, "drop")], minlength=3).tolist() == [4, 4, 0]
    # scored on the kept classes' test items only: a head that never saw "emu" is not
    # charged for it
    assert dropped.provenance["shots_policy"] == "drop"
    assert min(r["value"] for r in dropped.rows if r["metric"] == "accuracy") > 0.5


def test_metrics_match_their_definitions():
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3], [0.2, 0.8]])
    y = np.array([0, 0, 1, 1])
    got = classification_metrics(proba, y)
    assert got["accuracy"] == 0.5 and got["balanced_accuracy"] == 0.5
    assert got["nll"] == pytest.approx(log_loss(y, proba))
    # ECE by hand: bins at 0.9 (right), 0.6 (wrong), 0.7 (wrong), 0.8 (right)
    assert got["ece"] == pytest.approx((0.1 + 0.6 + 0.7 + 0.2) / 4)
    # balanced accuracy and macro-F1 agree with scikit-learn, also when a class is never
    # predicted (class 3) or never true (class 2)
    rng = np.random.default_rng(0)
    y = rng.choice([0, 1, 3], size=200)
    proba = rng.dirichlet(np.ones(4), size=200)[:, [0, 1, 2, 2]]
    predicted = proba.argmax(1)
    got = classification_metrics(proba, y)
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, predicted))
    assert got["macro_f1"] == pytest.approx(f1_score(y, predicted, average="macro"))


def test_mean_ci_is_a_t_interval():
    mean, _low, high = mean_ci(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0 and high - mean == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)
    assert np.isnan(mean_ci(np.array([5.0]))[1])


def test_cross_validation_intervals_use_the_corrected_resampled_t():
    """10-fold × 5 scores: the interval is t_{49} · sqrt((1/50 + 1/9) · s²) (Nadeau & Bengio;
    Bouckaert & Frank), 2.6× the naive t over 50 "independent" scores it replaced — for
    means and for paired differences, read from the rows' provenance."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 0.05, 50), rng.normal(0.78, 0.05, 50)
    half = 2.009575 * np.sqrt((1 / 50 + 1 / 9) * a.var(ddof=1))
    mean, low, high = mean_ci(a, test_train_ratio=1 / 9)
    assert high - mean == pytest.approx(half, rel=1e-5) and mean - low == pytest.approx(half)
    naive = mean_ci(a)[2] - mean
    assert (high - mean) / naive == pytest.approx(np.sqrt(1 + 50 / 9), rel=1e-6)  # 2.56
    rows = [
        {"head": h, "shots": "cv", "seed": s, "metric": "auc", "value": v[s]}
        for h, v in (("a", a), ("b", b))
        for s in range(50)
    ]
    results = Results(rows=rows, provenance={"test_train_ratio": 1 / 9})
    diff = results.paired("a", "auc")[0]
    d_half = 2.009575 * np.sqrt((1 / 50 + 1 / 9) * (b - a).var(ddof=1))
    assert diff["ci_high"] - diff["mean_difference"] == pytest.approx(d_half, rel=1e-5)
    assert results.interval.startswith("corrected resampled t")
    assert Results(rows=rows).interval.startswith("t interval over independent seeds")


def test_permuting_test_labels_changes_no_choice_and_no_prediction(split):
    X_train, y_train, X_test, y_test, texts = split
    heads = {}
    for name in HEADS.names():  # every head, the text-conditioned ones with class "texts"
        if head_tags(create_head(name)).groups:
            continue  # group-aware heads need groups: the groups protocol (test_groups.py)
        if head_tags(create_head(name)).family == "prompt":
            continue  # prompts learn in MiniLM's own space: test_prompt_learning.py checks them
        params = dict(QUICK.get(name, {}))
        if "class_embeddings" in create_head(name).get_params():
            params["class_embeddings"] = texts
        heads[name] = create_head(name, **params)
    kwargs = {"heads": heads, "shots": [0, 2, 5], "seeds": 2}
    first = evaluate_few_shot(X_train, y_train, X_test, y_test, **kwargs)
    permuted = np.random.default_rng(0).permutation(y_test)
    second = evaluate_few_shot(X_train, y_train, X_test, permuted, **kwargs)
    assert first.chosen == second.chosen  # hyper-parameters came from training data only
    for key in first.confusion:  # same predictions: column sums of the confusion matrix
        assert (np.sum(first.confusion[key], axis=0) == np.sum(second.confusion[key], axis=0)).all()
    accuracy = {
        (r["head"], r["shots"], r["seed"]): r["value"]
        for r in first.rows
        if r["metric"] == "accuracy"
    }
    assert min(accuracy.values()) > 0.6  # and the heads did learn something


def test_results_summary_paired_and_files(tmp_path, split):
    X_train, y_train, X_test, y_test, _ = split
    heads = {"gda": create_head("gda"), "prototype": create_head("prototype")}
    results = evaluate_few_shot(
        X_train,
        y_train,
        X_test,
        y_test,
        heads=heads,
        shots=[2, "all"],
        seeds=3,
        dataset="blobs",
        encoder="none",
    )
    rows = [r for r in results.rows if r["metric"] == "accuracy"]
    assert len(rows) == 2 * (3 + 1)  # "all" runs once
    summary = {(s["head"], s["shots"], s["metric"]): s for s in results.summary()}
    gda2 = summary[("gda", "2", "accuracy")]
    assert gda2["seeds"] == 3 and gda2["ci_low"] <= gda2["mean"] <= gda2["ci_high"]
    paired = results.paired("prototype")
    diffs = next(p for p in paired if p["shots"] == "2")
    manual = np.mean(
        [
            results.values("gda", 2, "accuracy")[s] - results.values("prototype", 2, "accuracy")[s]
            for s in range(3)
        ]
    )
    assert diffs["mean_difference"] == pytest.approx(manual)
    folder = results.save(tmp_path / "r")
    assert {p.name for p in folder.iterdir()} == {"rows.parquet", "rows.csv", "summary.json"}
    again = Results.load(folder)
    assert again.rows == [{**r, "shots": str(r["shots"])} for r in results.rows]
