"""Issue 15: every contrastive loss against a hand-written, loop-by-loop computation on a tiny
batch — values and gradients."""

from __future__ import annotations

import math

import pytest
import torch

from headstart.adapt.losses import Pair, create_loss
from headstart.adapt.losses.mochi import mix_hard_negatives


def _batch(seed: int = 0, b: int = 6, d: int = 5, labels=None):
    generator = torch.Generator().manual_seed(seed)
    raw = torch.randn(2 * b, d, generator=generator, dtype=torch.float64, requires_grad=True)
    z = torch.nn.functional.normalize(raw, dim=1)
    if labels is not None:
        labels = torch.tensor(labels)
    return raw, Pair(z[:b], z[b:], labels)


def _grad(raw, value):
    (grad,) = torch.autograd.grad(value, raw, retain_graph=True)
    return grad


def _check(loss, reference, raw):
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(_grad(raw, loss), _grad(raw, reference))


def _similarity(batch):
    z = torch.cat([batch.z, batch.z_pos])
    return z, len(batch.z)


def test_info_nce_is_the_nt_xent_of_its_definition():
    raw, batch = _batch()
    tau = 0.3
    z, b = _similarity(batch)
    terms = []
    for i in range(2 * b):
        p = (i + b) % (2 * b)
        denominator = sum(torch.exp(z[i] @ z[k] / tau) for k in range(2 * b) if k != i)
        terms.append(-torch.log(torch.exp(z[i] @ z[p] / tau) / denominator))
    _check(create_loss("info-nce", tau=tau)(batch), torch.stack(terms).mean(), raw)


def test_hard_contrastive_keeps_only_the_hardest_negatives():
    raw, batch = _batch(1, b=8)
    tau, fraction = 0.5, 0.25
    z, b = _similarity(batch)
    keep = math.ceil(fraction * (2 * b - 2))
    terms = []
    for i in range(2 * b):
        p = (i + b) % (2 * b)
        negatives = [k for k in range(2 * b) if k not in (i, p)]
        hardest = sorted(negatives, key=lambda k: -float((z[i] @ z[k]).detach()))[:keep]
        denominator = torch.exp(z[i] @ z[p] / tau) + sum(
            torch.exp(z[i] @ z[k] / tau) for k in hardest
        )
        terms.append(-torch.log(torch.exp(z[i] @ z[p] / tau) / denominator))
    loss = create_loss("hard-contrastive", tau=tau, hard_fraction=fraction)(batch)
    _check(loss, torch.stack(terms).mean(), raw)
    full = create_loss("hard-contrastive", tau=tau, hard_fraction=1.0)(batch)
    torch.testing.assert_close(full, create_loss("info-nce", tau=tau)(batch))


def test_supcon_averages_over_every_same_label_positive():
    labels = [0, 1, 0, 2, 1, 0]
    raw, batch = _batch(2, labels=labels)
    tau = 0.2
    z, b = _similarity(batch)
    both = labels + labels
    terms = []
    for i in range(2 * b):
        positives = [p for p in range(2 * b) if p != i and both[p] == both[i]]
        denominator = sum(torch.exp(z[i] @ z[a] / tau) for a in range(2 * b) if a != i)
        logs = [torch.log(torch.exp(z[i] @ z[p] / tau) / denominator) for p in positives]
        terms.append(-torch.stack(logs).mean())
    _check(create_loss("supcon", tau=tau)(batch), torch.stack(terms).mean(), raw)


def test_losses_refuse_bad_settings():
    with pytest.raises(ValueError, match="tau must be positive"):
        create_loss("info-nce", tau=0)
    with pytest.raises(ValueError, match="hard_fraction"):
        create_loss("hard-contrastive", hard_fraction=0)


def test_mochi_mixed_negatives_are_convex_mixtures_of_the_hardest_queue_items():
    from headstart.adapt.losses.mochi import mix_hard_negatives

    generator = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(3, 6, generator=generator), dim=1)
    queue = torch.nn.functional.normalize(torch.randn(40, 6, generator=generator), dim=1)
    mixed, how = mix_hard_negatives(q, queue, n_hard=5, s=4, s_prime=3, generator=generator)
    assert mixed.shape == (3, 7, 6)
    hardest = (q @ queue.T).topk(5, dim=1).indices
    for b in range(3):
        allowed = set(hardest[b].tolist())
        for k in range(4):
            i, j, a = int(how["i"][b, k]), int(how["j"][b, k]), how["alpha"][b, k]
            assert {i, j} <= allowed and 0 <= float(a) <= 1
            expected = torch.nn.functional.normalize(a * queue[i] + (1 - a) * queue[j], dim=0)
            torch.testing.assert_close(mixed[b, k], expected)
        for k in range(3):
            j, beta = int(how["j_prime"][b, k]), how["beta"][b, k]
            assert j in allowed and 0 <= float(beta) <= 0.5
            expected = torch.nn.functional.normalize(beta * q[b] + (1 - beta) * queue[j], dim=0)
            torch.testing.assert_close(mixed[b, 4 + k], expected)


def test_mochi_is_infonce_against_past_keys_only():
    """Issue 24, item 2: negatives are the queue of past keys (MoCo), not the batch's own
    positives; the key takes no gradient; a training call enqueues the keys, an eval call
    changes nothing and repeats itself exactly (the old loss queued held-out keys and mixed
    with a running generator, so early stopping compared noise)."""
    loss = create_loss("mochi", tau=0.5, queue_size=8, s=0, s_prime=0)
    loss.build(5)
    start = loss.queue.clone()
    assert start.shape == (8, 5)
    torch.testing.assert_close(start.norm(dim=1), torch.ones(8))  # MoCo's random first queue
    raw, batch = _batch(3, b=4)
    first = loss(batch)
    q, k = batch.z, batch.z_pos.detach()
    terms = []
    for a in range(4):
        logits = [q[a] @ k[a]] + [q[a] @ start[m].double() for m in range(8)]
        terms.append(-torch.log_softmax(torch.stack(logits) / 0.5, 0)[0])
    _check(first, torch.stack(terms).mean(), raw)
    torch.testing.assert_close(loss.queue, torch.cat([start[4:], k.float()]))  # FIFO
    loss.eval()
    frozen = loss.queue.clone()
    mixing = create_loss("mochi", queue_size=8, n_hard=4, s=3, s_prime=2)
    mixing.build(5)
    mixing.eval()
    values = [float(f(batch)) for f in (loss, loss, mixing, mixing)]
    assert values[0] == values[1] and values[2] == values[3]
    torch.testing.assert_close(loss.queue, frozen)


def test_mochi_leaves_out_queued_keys_of_the_anchors_own_row():
    """A stale key of the anchor's own item (queued in an earlier epoch) is not its negative,
    nor mixed into its synthetic negatives; other rows' keys are."""
    loss = create_loss("mochi", tau=0.5, queue_size=6, n_hard=6, s=4, s_prime=2)
    loss.build(5)
    raw, batch = _batch(7, b=3)
    batch.index = torch.tensor([10, 11, 12])
    loss.queue_rows = torch.tensor([11, -1, 10, 3, 4, 5])  # rows 10 and 11 queued before
    start = loss.queue.clone()
    loss.eval()
    value = loss(batch)
    q, k = batch.z, batch.z_pos.detach()
    generator = torch.Generator().manual_seed(loss.seed + 1)  # as the eval pass draws
    exclude = loss.queue_rows[None, :] == batch.index[:, None]
    synthetic, how = mix_hard_negatives(q, start.double(), 6, 4, 2, generator, exclude)
    terms = []
    for a in range(3):
        kept = [m for m in range(6) if not exclude[a, m]]
        logits = [q[a] @ k[a]] + [q[a] @ start[m].double() for m in kept]
        logits += [q[a] @ synthetic[a, t] for t in range(6)]
        terms.append(-torch.log_softmax(torch.stack(logits) / 0.5, 0)[0])
        used = set(how["i"][a].tolist()) | set(how["j"][a].tolist())
        assert not any(exclude[a, m] for m in used | set(how["j_prime"][a].tolist()))
    _check(value, torch.stack(terms).mean(), raw)


def test_mochi_keys_come_from_a_momentum_copy_of_the_adapter():
    """The trainer's key encoder moves as k ← m·k + (1 − m)·q and takes no gradient."""
    from headstart.adapt.adapter import create_adapter
    from headstart.heads.tensors import ema_update as _momentum_update

    query, key = create_adapter("linear", 4), create_adapter("linear", 4)
    with torch.no_grad():
        for p in query.parameters():
            p.add_(1.0)
    before = [p.clone() for p in key.parameters()]
    _momentum_update(key, query, 0.9)
    for b, k, q in zip(before, key.parameters(), query.parameters(), strict=True):
        torch.testing.assert_close(k, 0.9 * b + 0.1 * q)
    assert create_loss("mochi").key_momentum == 0.999


def test_mlcd_positives_are_the_nearest_centres_and_the_loss_its_formula():
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    loss = create_loss("mlcd", clusters=10, positives=3, scale=4.0)
    loss.prepare(X, None, np.arange(100))
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    centres = loss.prototypes.detach().numpy().astype(float)
    for row in (0, 50, 110):  # a held-out row gets its nearest centres too
        nearest = set(np.argsort(-(unit[row] @ centres.T))[:3].tolist())
        assert set(np.flatnonzero(loss.labels_[row].numpy()).tolist()) == nearest
    _raw, batch = _batch(4, b=3, d=5)
    batch.index = torch.tensor([0, 1, 2])
    value = loss(batch)
    w = torch.nn.functional.normalize(loss.prototypes, dim=1).double()
    terms = []
    for a in range(3):
        s = 4.0 * (batch.z[a] @ w.T)
        pos = loss.labels_[a]
        terms.append(torch.log1p(torch.exp(s[~pos]).sum()) + torch.log1p(torch.exp(-s[pos]).sum()))
    torch.testing.assert_close(value.double(), torch.stack(terms).mean())


def test_proto_triplet_is_the_hinge_of_its_definition():
    labels = [0, 1, 2, 0, 1, 2]
    raw, batch = _batch(5, labels=labels)
    y = batch.labels
    prototypes = {c: batch.z_pos[y == c].mean(0) for c in range(3)}
    terms = []
    for a in range(6):
        d = {c: torch.sqrt(((batch.z[a] - p) ** 2).sum() + 1e-6) for c, p in prototypes.items()}
        own = d[int(y[a])]
        other = min(v for c, v in d.items() if c != int(y[a]))
        terms.append(torch.clamp(own - other + 0.5, min=0))
    _check(create_loss("proto-triplet")(batch), torch.stack(terms).mean(), raw)


def test_icnn_score_of_a_case_worked_by_hand():
    """Two classes on a line, {0, 1} and {10, 11}: k = 4 shrinks to n − 2 = 2; normalised
    same-class distances 0.1, 1/9, 1/9, 0.1 → λ_same = 1 − 0.10556; other-class distances over
    their maximum 1, 0.9, 0.9, 1 → λ_diff = 0.95; γ = 1, as the official code sets it for a
    batch too small for k (issue 24, item 6: we had γ = 0.5, score 0.711 for 0.961)."""
    from headstart.adapt.losses.susana import icnn_score

    points = torch.tensor([[0.0], [1.0], [10.0], [11.0]], dtype=torch.float64)
    score = icnn_score(points, torch.tensor([0, 0, 1, 1]), k=4)
    lambda_same = 1 - (0.1 + 1 / 9 + 1 / 9 + 0.1) / 4
    assert float(score) == pytest.approx(((lambda_same + 0.95) / 2 + 1.0) / 2, abs=1e-4)
    assert float(score) == pytest.approx(0.961, abs=1e-3)
    mixed = icnn_score(points, torch.tensor([0, 1, 0, 1]), k=4)
    assert float(mixed) < float(score)  # neighbours of the other class lower it


def _icnn_by_loops(x: torch.Tensor, y: list[int], k: int, ipc: int) -> torch.Tensor:
    """The full-episode ICNN score item by item, from the paper's and the code's definitions."""
    n = len(y)
    d = [[torch.sqrt(((x[i] - x[j]) ** 2).sum() + 1e-6) for j in range(n)] for i in range(n)]
    same_means, diff_raw, same_counts = [], [], []
    for i in range(n):
        order = sorted((j for j in range(n) if j != i), key=lambda j: float(d[i][j]))[:ipc]
        others = [d[i][j] for j in order if y[j] != y[i]]
        nearest_other = min(others) if others else torch.tensor(float("inf"))
        first = order[:k]
        normalised = [d[i][j] / (nearest_other + 1e-7) for j in first]
        top = torch.clamp(torch.stack(normalised).max(), min=1.0)
        same = [v / top for v, j in zip(normalised, first, strict=True) if y[j] == y[i]]
        same_counts.append(len(same))
        same_means.append(sum(same) / (len(same) + 1e-7) if same else None)
        diff_raw.append([d[i][j] for j in first if y[j] != y[i]])
    with_same = [m for m in same_means if m is not None]
    lambda_same = 1 - sum(with_same) / (len(with_same) + 1e-7)
    biggest = torch.stack([v for row in diff_raw for v in row]).max()
    rows = [sum(row) / (biggest + 1e-7) / (len(row) + 1e-7) for row in diff_raw if row]
    lambda_diff = sum(rows) / (len(rows) + 1e-7) if rows else torch.tensor(1.0)
    gamma = sum(same_counts) / k / n
    return ((lambda_same + lambda_diff) / 2 + gamma) / 2


def test_icnn_full_episode_equals_its_loop_definition():
    """Issue 24, item 6: the neighbourhood reaches `ipc` items (the full episode), values and
    gradients against an item-by-item computation."""
    from headstart.adapt.losses.susana import icnn_score

    generator = torch.Generator().manual_seed(1)
    raw = torch.randn(18, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    y = [0] * 6 + [1] * 6 + [2] * 6
    _check(icnn_score(raw, torch.tensor(y), k=4, ipc=6), _icnn_by_loops(raw, y, 4, 6), raw)


def test_icnn_keeps_a_gradient_on_pure_neighbourhoods():
    """512 items in 10 tight classes: with the code's default ipc = k + 1 the score is 1 and
    the loss and gradient 0 (what we trained with); the full episode looks past the class and
    keeps pulling classes together and apart."""
    from headstart.adapt.losses.susana import icnn_score

    generator = torch.Generator().manual_seed(2)
    labels = torch.arange(10).repeat_interleave(52)[:512]
    centres = torch.randn(10, 16, generator=generator, dtype=torch.float64) * 3
    noise = torch.randn(512, 16, generator=generator, dtype=torch.float64)
    raw = (centres[labels] + noise).requires_grad_(True)
    short = -torch.log(icnn_score(raw, labels, k=4))
    assert float(short) == pytest.approx(0.0, abs=1e-6)
    assert float(_grad(raw, short).abs().max()) < 1e-6
    full = -torch.log(icnn_score(raw, labels, k=4, ipc=51))
    assert float(full) > 0.01  # 0.031
    assert float(_grad(raw, full).abs().max()) > 1e-4  # 3.5e-4
