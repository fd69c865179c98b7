"""Classes added after fitting (issue 13): TEEN's calibrated prototypes against the paper's
formula, plain prototypes extended exactly, α chosen on base classes only."""

from __future__ import annotations

import numpy as np
import pytest

from headstart.heads import create_head
from headstart.heads.teen import ALPHAS


def _classes(k: int, per_class: int, seed: int = 0, d: int = 12):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 2
    y = np.repeat(np.arange(k), per_class)
    return centres[y] + rng.normal(size=(len(y), d)), y


def _unit(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def test_teen_defaults_are_the_official_raw_means_and_fixed_alpha():
    """The official code: `replace_base_fc` / `update_fc_avg` average raw embeddings,
    `soft_calibration` normalises them and mixes with `shift_weight` 0.5 (CUB-200,
    miniImageNet). Would have caught unit-feature means and an α chosen per run as defaults."""
    X, y = _classes(8, 30)
    X = X * np.random.default_rng(9).uniform(0.2, 5.0, size=(len(y), 1))  # norms that differ
    base, new = y < 6, y >= 6
    head = create_head("teen").fit(X[base], y[base])
    shots = np.flatnonzero(new)[::6]  # 5 shots of classes 6 and 7
    head.extend(X[shots], y[shots])
    b = _unit(np.stack([X[y == c].mean(0) for c in range(6)]))
    np.testing.assert_allclose(head.prototypes_[:6], b, atol=1e-10)
    for row, c in enumerate((6, 7), start=6):
        p = _unit(X[shots][y[shots] == c].mean(0))
        w = np.exp(16 * b @ p) / np.exp(16 * b @ p).sum()
        np.testing.assert_allclose(head.prototypes_[row], 0.5 * p + 0.5 * _unit(w @ b), atol=1e-10)
    assert head.alpha_ == 0.5 and head.alpha_how_ == "given"
    unit_means = create_head("teen", mean="unit").fit(X[base], y[base]).prototypes_
    assert np.abs(unit_means - b).max() > 1e-3  # the variant is a different prototype
    with pytest.raises(ValueError, match="mean must be one of"):
        create_head("teen", mean="median").fit(X[base], y[base])
    with pytest.raises(ValueError, match="alpha must be 'auto' or a number in"):
        create_head("teen", alpha=1.5).fit(X[base], y[base])


def test_teen_calibrates_new_prototypes_as_the_paper_writes():
    X, y = _classes(8, 30)
    base, new = y < 6, y >= 6
    head = create_head("teen", alpha=0.3, mean="unit").fit(X[base], y[base])
    head.extend(X[new][::6], y[new][::6])  # 5 shots of classes 6 and 7
    b = _unit(np.stack([_unit(X[y == c]).mean(0) for c in range(6)]))
    for row, c in enumerate((6, 7), start=6):
        p = _unit(_unit(X[y == c][::6]).mean(0))
        w = np.exp(16 * b @ p) / np.exp(16 * b @ p).sum()  # softmax over base classes
        delta = _unit(w @ b)
        np.testing.assert_allclose(head.prototypes_[row], 0.7 * p + 0.3 * delta, atol=1e-10)
    np.testing.assert_allclose(head.prototypes_[:6], b, atol=1e-10)  # base classes untouched
    assert head.classes_.tolist() == list(range(8))
    scores = head.scores(X[:3])
    expected = 16 * _unit(X[:3]) @ _unit(head.prototypes_).T
    np.testing.assert_allclose(scores, expected, atol=1e-8)


def test_extended_prototypes_equal_a_fit_on_every_class():
    X, y = _classes(5, 10, seed=1)
    grown = create_head("prototype").fit(X[y < 3], y[y < 3]).extend(X[y >= 3], y[y >= 3])
    whole = create_head("prototype").fit(X, y)
    np.testing.assert_allclose(grown.prototypes_, whole.prototypes_, atol=1e-12)
    np.testing.assert_array_equal(grown.predict(X), whole.predict(X))


def test_alpha_is_chosen_on_base_classes_only():
    X, y = _classes(10, 20, seed=2)
    head = create_head("teen", alpha="auto").fit(X, y)
    assert head.alpha_ in ALPHAS and "pseudo-sessions" in head.alpha_how_
    again = create_head("teen", alpha="auto").fit(X, y)
    assert again.alpha_ == head.alpha_  # the same base data, the same α
    small = create_head("teen", alpha="auto").fit(X[y < 2], y[y < 2])
    assert small.alpha_ == 0.5 and "paper default" in small.alpha_how_


def test_bad_extensions_are_named():
    X, y = _classes(4, 10, seed=3)
    head = create_head("teen", alpha=0.5).fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match=r"classes \[1\] are known already"):
        head.extend(X[y == 1], y[y == 1])
    with pytest.raises(ValueError, match="features"):
        head.extend(X[y == 2][:, :5], y[y == 2])
    with pytest.raises(ValueError, match="cannot add classes without a refit"):
        create_head("linear-probe").fit(X, y).extend(X, y + 10)


@pytest.mark.parametrize("scale", ["likelihood", "paper"])
def test_streaming_gda_extended_equals_gda_fitted_on_every_class(scale):
    X, y = _classes(6, 9, seed=4, d=5)
    grown = create_head("gda", streaming=True, scale=scale).fit(X[y < 4], y[y < 4])
    grown.extend(X[y >= 4], y[y >= 4])
    whole = create_head("gda", streaming=True, scale=scale).fit(X, y)
    np.testing.assert_allclose(grown.coef_, whole.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(grown.intercept_, whole.intercept_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(grown.scatter_, whole.scatter_, atol=1e-9)
    with pytest.raises(ValueError, match="cannot add classes"):
        create_head("gda").fit(X, y).extend(X, y + 10)  # without streaming statistics


def test_sessions_add_classes_and_score_base_and_new_apart():
    from headstart.exceptions import DataError
    from headstart.protocol.incremental import evaluate_incremental

    X, y = _classes(8, 30, seed=5)
    test = np.arange(len(y)) % 3 == 0
    heads = {h: create_head(h) for h in ("teen", "prototype")}
    heads["gda"] = create_head("gda", streaming=True)

    def run(labels):
        return evaluate_incremental(X[~test], y[~test], X[test], labels, heads, "4:2:5", 3)

    results = run(y[test])
    assert results.shots() == ["session 0", "session 1", "session 2"]
    for metric in ("harmonic_mean", "harmonic_mean_per_class", "accuracy_new_per_class"):
        last = results.values("teen", "session 2", metric)
        assert len(last) == 3 and all(0 <= v <= 1 for v in last.values())
    assert "accuracy_new" not in results.metrics() or not results.values(
        "teen", "session 0", "accuracy_new"
    )
    orders = results.provenance["class_orders"]
    assert len({tuple(o[:4]) for o in orders.values()}) > 1  # base classes vary by seed
    shuffled = np.random.default_rng(0).permutation(y[test])
    assert run(shuffled).chosen == results.chosen  # α never reads test labels
    with pytest.raises(DataError, match="asks for 7 base \\+ 2 new classes"):
        evaluate_incremental(X[~test], y[~test], X[test], y[test], heads, "7:2:5", 1)
    with pytest.raises(DataError, match="cannot add classes without a refit"):
        evaluate_incremental(
            X[~test], y[~test], X[test], y[test], {"lp": create_head("linear-probe")}, "4:2:5", 1
        )


def test_session_metrics_report_per_item_and_per_class_means_of_a_hand_case():
    """Base classes 0 (4 test items, 3 right) and 1 (1 item, right); new class 2 (2 items, 1
    right) and 3 (1 item, wrong). Per item: base 4/5, new 1/3; per class (the official TEEN
    protocol's seen/unseen accuracy): base (3/4 + 1) / 2, new (1/2 + 0) / 2. Would have caught
    reporting only the per-item figures, which let a large class hide a small one."""
    from headstart.protocol.incremental import session_metrics

    y = np.array([0, 0, 0, 0, 1, 2, 2, 3])
    predicted = np.array([0, 0, 0, 1, 1, 2, 0, 2])
    got = session_metrics(y, predicted, np.array([0, 1]))

    def harmonic(a, b):
        return 2 * a * b / (a + b)

    expected = {
        "accuracy_all": 5 / 8,
        "accuracy_base": 4 / 5,
        "accuracy_new": 1 / 3,
        "harmonic_mean": harmonic(4 / 5, 1 / 3),
        "accuracy_base_per_class": 0.875,
        "accuracy_new_per_class": 0.25,
        "harmonic_mean_per_class": harmonic(0.875, 0.25),
    }
    assert got == pytest.approx(expected)
    base_only = session_metrics(y[:5], predicted[:5], np.array([0, 1]))
    assert set(base_only) == {"accuracy_all", "accuracy_base", "accuracy_base_per_class"}


def test_fit_extend_adds_a_stores_classes_and_a_failure_changes_nothing(tmp_path):
    from headstart import api
    from headstart.exceptions import DataError
    from headstart.store import write_vectors

    X, y = _classes(5, 20, seed=6, d=8)
    names = np.array(["a", "b", "c", "d", "e"])
    old, new = y < 3, y >= 3
    write_vectors(tmp_path / "old", X[old], names[y[old]], name="blobs")
    write_vectors(tmp_path / "new", X[new], names[y[new]], name="blobs")
    model = api.fit(tmp_path / "old", "teen", tmp_path / "m", params={"alpha": 0.5})
    api.extend(model, tmp_path / "new")
    rows = api.predict(model, tmp_path / "new", tmp_path / "p.csv", progress=False)
    assert np.mean([r["class_1"] in ("d", "e") for r in rows]) > 0.9
    saved = (model / "model.json").read_bytes(), (model / "provenance.json").read_bytes()
    with pytest.raises(DataError, match=r"classes \['d', 'e'\] .* are known to"):
        api.extend(model, tmp_path / "new")
    write_vectors(tmp_path / "wide", X[new][:, :6], names[y[new]], name="blobs")
    with pytest.raises(DataError, match="was fitted on 'user:blobs' features"):
        api.extend(model, tmp_path / "wide")
    assert ((model / "model.json").read_bytes(), (model / "provenance.json").read_bytes()) == saved
    plain = api.fit(tmp_path / "old", "linear-probe", tmp_path / "lp")
    with pytest.raises(DataError, match="cannot add classes without a refit"):
        api.extend(plain, tmp_path / "new")
