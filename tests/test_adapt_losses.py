"""Issue 15: every contrastive loss against a hand-written, loop-by-loop computation on a tiny
batch — values and gradients."""

from __future__ import annotations

import math

import pytest
import torch

from headstart.adapt.losses import Pair, create_loss


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
