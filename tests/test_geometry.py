"""The geometry task (issue 27): the kernel inductive bias of Boopathy et al. 2024 against the
official code's procedure on a small case, its χ² fit and tail approximation, and the
representation metrics against the adapt metrics they reuse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from protocol_cases import fixed_store
from scipy import stats

from headstart import api
from headstart.adapt.metrics import separability, tolerance, uniformity
from headstart.protocol.inductive_bias import (
    bias_from_errors,
    fit_ncx2,
    inductive_bias_bits,
    posterior,
    rbf,
    sampled_errors,
    sankaran,
)
from headstart.vector_index import unit_rows


def _points(seed=0, n=14, test=5, classes=3, dim=6, unit=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + test, dim)) * 0.7
    X = unit_rows(X) if unit else X
    y = rng.integers(0, classes, n + test)
    return X[:n], y[:n], X[n:], y[n:]


def test_the_direct_solve_is_what_the_official_adam_fit_converges_to():
    """FieteLab's kernel_inductive_bias.py fits α with Adam (lr 1e-2, MSE) so that K α ≈ Y,
    and a_x (lr 1e-3) so that K a_x ≈ K(X, X*); mean K*ᵀα, covariance K** − K*ᵀa_x. Full
    batch here (both at lr 1e-2, to converge in fewer epochs), on a small well-conditioned
    case (raw rows, as the official code takes)."""
    X, y, Xt, _ = _points(unit=False)
    Y = np.eye(3)[y]
    K, cross = torch.tensor(rbf(X, X)), torch.tensor(rbf(X, Xt))

    def adam(target, lr, epochs):
        weights = torch.zeros(target.shape, dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.Adam([weights], lr=lr)
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = ((K @ weights - target) ** 2).mean()
            loss.backward()
            optimizer.step()
        return weights.detach()

    alpha = adam(torch.tensor(Y), 1e-2, 6000)
    a_x = adam(cross, 1e-2, 6000)
    mean, cov = posterior(X, Y, Xt)
    np.testing.assert_allclose(mean, (cross.T @ alpha).numpy(), atol=2e-3)
    official_cov = torch.tensor(rbf(Xt, Xt)) - cross.T @ a_x
    np.testing.assert_allclose(cov, official_cov.numpy(), atol=2e-3)


def test_sampled_errors_have_the_posterior_mean_and_trace():
    """E‖f − y‖² = ‖m − y‖² + tr(Σ)·k over outputs: the sampled MSE's expectation."""
    X, y, Xt, yt = _points(seed=1)
    mean, cov = posterior(X, np.eye(3)[y], Xt)
    Y = np.eye(3)[yt]
    errors = sampled_errors(mean, cov, Y, 20_000, seed=0)
    expected = ((mean - Y) ** 2).mean() + np.trace(cov) / len(Y)
    assert errors.mean() == pytest.approx(expected, rel=0.02)


def test_the_chi2_fit_keeps_the_better_likelihood_and_the_tail_approximation_holds():
    rng = np.random.default_rng(0)
    errors = 1e-4 * stats.ncx2.rvs(200, 10, size=5000, random_state=rng)
    df, nc, scale = fit_ncx2(errors)
    official = stats.ncx2.fit(errors, floc=0)
    ours = stats.ncx2.logpdf(errors, df, nc, loc=0, scale=scale).sum()
    assert ours >= stats.ncx2.logpdf(errors, *official).sum() - 1e-6
    assert scale * (df + nc) == pytest.approx(errors.mean(), rel=0.01)
    for target in (0.008, 0.006, 0.004):  # the far lower tail, where the fallback is used
        exact = -stats.ncx2.logcdf(target, df, nc, loc=0, scale=scale)
        assert sankaran(target, df, nc, scale) == pytest.approx(exact, rel=0.12)
    assert bias_from_errors(errors, 1e-6) > bias_from_errors(errors, 0.015) > 0


def test_a_representation_that_separates_the_classes_needs_less_inductive_bias():
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(4), 40)
    centres = rng.normal(size=(4, 8))
    bits = {}
    for name, spread in (("separated", 0.1), ("mixed", 2.0)):
        X = centres[y] + spread * rng.normal(size=(len(y), 8))
        train, test = np.arange(len(y)) % 4 != 0, np.arange(len(y)) % 4 == 0
        found = inductive_bias_bits(X[train], y[train], X[test], y[test], 4, 0.01, 2000)
        bits[name] = found["inductive_bias_bits"]
    assert bits["separated"] < bits["mixed"]


def test_geometry_on_a_store_reuses_the_adapt_metrics_on_the_test_split(tmp_path):
    store = fixed_store(tmp_path / "s")
    results = api.run_protocol("geometry", store.root, progress=False, seeds=2, samples=500)
    test = np.flatnonzero(np.asarray(store.split) == "test")
    X, y = store.vectors()[test], store.labels[test]
    value = results.values("geometry", "all", "tolerance")
    assert value[0] == pytest.approx(tolerance(X, y)) and value[1] == value[0]
    assert results.values("geometry", "all", "separability")[0] == pytest.approx(separability(X, y))
    assert results.values("geometry", "all", "uniformity")[1] == pytest.approx(
        uniformity(X, seed=1)
    )
    bits = results.values("geometry", "all", "inductive_bias_bits")
    assert all(math.isfinite(b) and b > 0 for b in bits.values())
    assert results.provenance["positive_pairs"].startswith("two random items of the same class")
    assert results.main_metric == "inductive_bias_bits"
