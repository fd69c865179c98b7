"""Open-set scores and metrics against their equations, computed independently here with
plain NumPy (issue 13)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from headstart.exceptions import DataError, UnknownNameError
from headstart.heads import create_head
from headstart.openset import create_score
from headstart.openset.metrics import fpr_at_tpr, open_set_metrics, oscr
from headstart.workflow import build_model


def _support(n_per_class: int, d: int = 6, k: int = 3, seed: int = 0, spread: float = 3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * spread
    y = np.repeat(np.arange(k), n_per_class)
    return centres[y] + rng.normal(size=(len(y), d)), y, centres[0] + rng.normal(size=(9, d)) * 2


def _shrunk_precision(centred: np.ndarray) -> np.ndarray:
    """GDA's Σ̃ = (S + tr(S)/(N−1)·I)/(N−1), inverted outright."""
    n, d = centred.shape
    scatter = centred.T @ centred
    return np.linalg.inv((scatter + np.trace(scatter) / (n - 1) * np.eye(d)) / (n - 1))


def _mahalanobis(X, means, precision):
    diff = X[:, None, :] - means[None, :, :]
    return np.einsum("nkd,de,nke->nk", diff, precision, diff)


@pytest.mark.parametrize("n_per_class", [20, 2])  # N > d, and N < d (Woodbury inside)
def test_each_score_equals_its_formula(n_per_class):
    X, y, queries = _support(n_per_class)
    if n_per_class == 2:
        X, queries = np.hstack([X, X[:, :3] ** 2]), np.hstack([queries, queries[:, :3] ** 2])
    head = create_head("gda").fit(X, y)
    z = queries @ head.coef_.T + head.intercept_
    means = np.stack([X[y == c].mean(0) for c in range(3)])
    precision = _shrunk_precision(X - means[y])
    distances = _mahalanobis(queries, means, precision)
    everything = X - X.mean(0)
    background = _mahalanobis(queries, X.mean(0)[None], _shrunk_precision(everything))
    priors = np.bincount(y) / len(y)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    q_unit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    expected = {
        "msp": -(
            np.exp(z - z.max(1, keepdims=True))
            / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
        ).max(1),
        "mls": -z.max(1),
        "energy": -np.log(np.exp(z).sum(1)),
        "mahalanobis": distances.min(1),
        "relative-mahalanobis": (distances - background).min(1),
        "gda-likelihood": -np.log((priors * np.exp(-0.5 * distances)).sum(1)),
        "knn": np.sort(1 - q_unit @ unit.T, axis=1)[:, 2],
    }
    for name, want in expected.items():
        options = {"k": 3} if name == "knn" else {}
        got = create_score(name, **options).fit(head, X, y).score(queries)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)


def test_scores_read_the_features_a_pipeline_hands_its_head():
    X, y, queries = _support(10)
    model = build_model("prototype", None, ["l2-normalize"]).fit(X, y)
    scaled = create_score("knn").fit(model, X * 5, y).score(queries * 5)
    np.testing.assert_allclose(scaled, create_score("knn").fit(model, X, y).score(queries))
    assert create_score("mls").fit(model, X, y).score(queries).shape == (9,)


def test_unknown_score_names_are_named_with_a_suggestion():
    with pytest.raises(UnknownNameError, match="Did you mean 'mahalanobis'"):
        create_score("mahalanobs")
    with pytest.raises(DataError, match="k must be 'auto' or an integer of at least 1, got 0"):
        create_score("knn", k=0)


def test_oscr_and_fpr95_on_a_case_worked_by_hand():
    # known: 0.1 (right), 0.4 (wrong), 0.6 (right); unknown: 0.3, 0.8
    scores = np.array([0.1, 0.4, 0.6, 0.3, 0.8])
    unknown = np.array([False, False, False, True, True])
    correct = np.array([True, False, True, False, False])
    # CCR–FPR points (0, 0) (0, 1/3) (1/2, 1/3) (1/2, 2/3) (1, 2/3): area 1/6 + 1/3
    assert oscr(scores, unknown, correct) == pytest.approx(0.5)
    # 95% of three known items: all three, threshold 0.6; unknown 0.3 is accepted
    assert fpr_at_tpr(scores, unknown) == pytest.approx(0.5)
    metrics = open_set_metrics(scores, unknown, correct)
    assert metrics["auroc"] == pytest.approx(4 / 6)  # pairs (unknown above known): 1 + 3
    with pytest.raises(ValueError, match="both known and unknown"):
        open_set_metrics(scores[:3], unknown[:3], correct[:3])


def test_temperature_minimises_the_out_of_fold_nll():
    from scipy.special import log_softmax
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    from headstart.openset.calibration import TemperatureScaling

    X, y, _ = _support(4, seed=3, spread=1)  # overlapping classes: held-out errors
    head = create_head("gda", scale="paper")  # the official scale: not a likelihood
    scaling = TemperatureScaling().fit(head, X, y)
    held = np.zeros((len(y), 3))
    for train, test in StratifiedKFold(4, shuffle=True, random_state=0).split(X, y):
        fitted = clone(head).fit(X[train], y[train])
        held[test] = X[test] @ fitted.coef_.T + fitted.intercept_
    grid = np.exp(np.linspace(-4, 4, 4001))
    losses = [-log_softmax(held / t, axis=1)[np.arange(len(y)), y].mean() for t in grid]
    assert scaling.temperature_ == pytest.approx(grid[int(np.argmin(losses))], rel=5e-3)
    one_shot = TemperatureScaling().fit(head, X[::4], y[::4])
    assert one_shot.temperature_ == 1.0 and "fewer than 2 items" in one_shot.how_


def test_calibration_in_the_protocol_never_reads_test_labels():
    """ECE before and after temperature scaling in the results; the temperature comes from
    the support items only, so permuting the test labels changes no temperature."""
    from headstart.protocol import evaluate_few_shot

    X_all, y_all, _ = _support(70, seed=4, spread=1)
    test = np.arange(len(y_all)) % 7 < 3
    X, y, X_test, y_test = X_all[~test], y_all[~test], X_all[test], y_all[test]
    heads = {"gda": create_head("gda", scale="paper"), "prototype": create_head("prototype")}

    def run(labels):
        return evaluate_few_shot(X, y, X_test, labels, heads, [16], seeds=3, calibrate=True)

    results = run(y_test)
    temperatures = [c["temperature"] for c in results.chosen]
    shuffled = np.random.default_rng(0).permutation(y_test)
    assert [c["temperature"] for c in run(shuffled).chosen] == temperatures
    before = np.mean(list(results.values("gda", 16, "ece").values()))
    after = np.mean(list(results.values("gda", 16, "ece_calibrated").values()))
    assert after < before / 2  # the paper scale is miscalibrated; T repairs most of it


def test_open_set_protocol_holds_out_classes_per_seed_and_scores_every_pair():
    from headstart.protocol.open_set import evaluate_open_set

    rng = np.random.default_rng(6)
    centres = rng.normal(size=(5, 8)) * 4
    y_train, y_test = np.repeat(np.arange(5), 20), np.repeat(np.arange(5), 15)
    X_train = centres[y_train] + rng.normal(size=(100, 8))
    X_test = centres[y_test] + rng.normal(size=(75, 8))
    far = rng.normal(size=(30, 8)) * 4 + 20  # far from every class
    heads = {"prototype": create_head("prototype"), "gda": create_head("gda")}
    results = evaluate_open_set(
        X_train,
        y_train,
        X_test,
        y_test,
        heads,
        ["mls", "mahalanobis"],
        [4],
        seeds=3,
        unknown_fraction=0.4,
        X_far=far,
    )
    held = results.provenance["unknown_classes"]
    assert len(held) == 3 and all(len(v) == 2 for v in held.values())
    assert len({tuple(v) for v in held.values()}) > 1  # the split varies with the seed
    assert results.heads() == [
        "prototype · mls",
        "prototype · mahalanobis",
        "gda · mls",
        "gda · mahalanobis",
    ]
    for seed in range(3):  # closed-set accuracy belongs to the head, not the score
        values = [results.values(h, 4, "closed_accuracy")[seed] for h in results.heads()[:2]]
        assert values[0] == values[1]
    auroc = np.mean(list(results.values("gda · mahalanobis", 4, "auroc").values()))
    assert auroc > 0.9 and min(results.values("gda · mahalanobis", 4, "far_auroc").values()) > 0.99
    kept = next(iter(results.open_set.values()))
    assert len(kept["score"]) == 75 and sum(kept["unknown"]) == 30
    with pytest.raises(DataError, match="needs at least two known and one unknown class"):
        evaluate_open_set(X_train, y_train, X_test, y_test, heads, ["mls"], [4], 1, 0.8)


def test_the_reject_option_keeps_its_share_of_known_items_and_survives_a_save(tmp_path):
    from sklearn.linear_model import LogisticRegression

    from headstart.exceptions import StoreError
    from headstart.openset.reject import REJECT_ARRAYS, RejectOption

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 5)) * 4
    y = np.repeat(np.arange(3), 150)
    X = centres[y] + rng.normal(size=(450, 5))
    fresh_y = np.repeat(np.arange(3), 2000)
    fresh = centres[fresh_y] + rng.normal(size=(6000, 5))  # known classes, never seen
    far = rng.normal(size=(500, 5)) + 30
    head = create_head("gda").fit(X, y)
    option = RejectOption("mahalanobis", tpr=0.9).fit(head, X, y)
    assert abs(option.accept(fresh).mean() - 0.9) < 0.03 and not option.accept(far).any()
    assert option.how_ == "out-of-fold scores of 450 support items (5 folds)"
    option.save(tmp_path)
    loaded = RejectOption.load(tmp_path, head)
    assert loaded.threshold_ == option.threshold_
    np.testing.assert_allclose(loaded.scores(fresh[:50]), option.scores(fresh[:50]))
    (tmp_path / REJECT_ARRAYS).write_bytes((tmp_path / REJECT_ARRAYS).read_bytes()[:-8])
    with pytest.raises(StoreError, match="checksum mismatch"):
        RejectOption.load(tmp_path, head)
    with pytest.raises(UnknownNameError, match="Did you mean 'mls'"):
        RejectOption("mlss")
    plain = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="has no per-class scores"):
        RejectOption("mls").fit(plain, X, y)


def test_fit_with_a_reject_option_makes_predict_answer_unknown(tmp_path):
    import csv

    from headstart import api
    from headstart.store import write_vectors

    store = api.embed("digits", "raw-pixels", tmp_path / "s", limit=200, progress=False).store
    model = api.fit(store.root, "gda", tmp_path / "m", reject="knn", reject_tpr=0.9)
    write_vectors(tmp_path / "far", np.full((10, store.dim), 50.0))  # nothing like a digit
    out = tmp_path / "p.csv"
    rows = api.predict(model, tmp_path / "far", out, progress=False, allow_other_encoder=True)
    assert [r["prediction"] for r in rows] == ["unknown"] * 10
    assert "10 answered 'unknown'" in rows.summary(out)
    with open(out) as handle:
        header = next(csv.reader(handle))
    assert header[-3:] == ["prediction", "knn_score", "threshold"]


def test_predict_with_reject_chooses_the_threshold_on_the_training_store_once(tmp_path):
    from headstart import api
    from headstart.openset.reject import REJECT_FILE
    from headstart.store import write_vectors

    store = api.embed("digits", "raw-pixels", tmp_path / "s", limit=200, progress=False).store
    model = api.fit(store.root, "prototype", tmp_path / "m")
    write_vectors(tmp_path / "far", np.full((5, store.dim), 40.0))
    rows = api.predict(
        model, tmp_path / "far", None, progress=False, allow_other_encoder=True, reject="knn"
    )
    assert [r["prediction"] for r in rows] == ["unknown"] * 5
    saved = json.loads((model / REJECT_FILE).read_text())
    assert saved["score"] == "knn" and "out-of-fold" in saved["how"]
    again = api.predict(model, store.root, None, progress=False, reject="knn")  # reuses it
    assert json.loads((model / REJECT_FILE).read_text()) == saved
    assert np.mean([r["prediction"] != "unknown" for r in again]) > 0.8
    shutil.rmtree(store.root)
    with pytest.raises(DataError, match=r"training store .* is not available"):
        api.predict(
            model, tmp_path / "far", None, progress=False, allow_other_encoder=True, reject="mls"
        )


def test_the_ivf_index_finds_the_exact_neighbour_for_most_items(hide_module):
    rng = np.random.default_rng(8)
    centres = rng.normal(size=(10, 32)) * 3
    y = rng.integers(0, 10, 4000)
    X = centres[y] + rng.normal(size=(4000, 32))
    queries = centres[rng.integers(0, 10, 500)] + rng.normal(size=(500, 32))
    head = create_head("prototype").fit(X, y)
    exact = create_score("knn").fit(head, X, y).score(queries)
    approximate = create_score("knn", index="ivf", lists=32, probes=4).fit(head, X, y)
    found = approximate.score(queries)
    assert (found >= exact - 1e-5).all()  # never nearer than the true nearest neighbour
    assert np.mean(np.isclose(found, exact, atol=1e-5)) > 0.9
    hide_module("faiss")
    with pytest.raises(ValueError, match=r"pip install 'headstart\[index\]'"):
        create_score("knn", index="ivf").fit(head, X, y).score(queries)


def test_knn_in_the_top_directions_equals_exact_when_they_span_the_data():
    rng = np.random.default_rng(9)
    basis = np.linalg.qr(rng.normal(size=(32, 5)))[0]  # the data live in 5 of 32 dimensions
    y = np.repeat(np.arange(4), 50)
    X = (rng.normal(size=(4, 5))[y] * 3 + rng.normal(size=(200, 5))) @ basis.T
    queries = rng.normal(size=(40, 5)) @ basis.T
    head = create_head("prototype").fit(X, y)
    exact = create_score("knn", k=2).fit(head, X, y).score(queries)
    projected = create_score("knn", k=2, dims=5).fit(head, X, y)
    np.testing.assert_allclose(projected.score(queries), exact, atol=1e-5)
    assert projected.support_.shape == (200, 5)
    with pytest.raises(DataError, match="dims must be at least 1"):
        create_score("knn", dims=0)
