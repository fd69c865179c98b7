"""Issue 15: the losses whose positives are not a plain partner view — class-pair gates
(SimLAP), transitive invariance, SepCLR — against loop-by-loop computations of their
equations on a tiny batch, values and gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from headstart.adapt.losses import Pair, create_loss
from headstart.adapt.losses.transitive import choose_negatives


def _batch(seed: int, b: int, d: int, labels=None, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    raw = torch.randn(2 * b, d, generator=generator, dtype=dtype, requires_grad=True)
    z = torch.nn.functional.normalize(raw, dim=1)
    return raw, Pair(z[:b], z[b:], None if labels is None else torch.tensor(labels))


def _check(loss, reference, raw):
    torch.testing.assert_close(loss, reference)
    (one,) = torch.autograd.grad(loss, raw, retain_graph=True)
    (two,) = torch.autograd.grad(reference, raw, retain_graph=True)
    torch.testing.assert_close(one, two)


def test_transitive_ranking_loss_is_its_hinge_sum():
    torch.manual_seed(0)
    raw, batch = _batch(0, b=8, d=4)
    loss_fn = create_loss("transitive", margin=0.5, negatives=4)
    torch.manual_seed(3)
    value = loss_fn(batch)
    torch.manual_seed(3)
    chosen = choose_negatives(batch.z, batch.z_pos, 0.5, 4)
    z, p = batch.z, batch.z_pos
    cand = torch.cat([z, p])
    total = 0.0
    for i in range(8):
        for j in range(16):
            if chosen[i, j]:
                d_ap = -(z[i] @ p[i])
                total = total + torch.relu(d_ap + z[i] @ cand[j] + 0.5)
                total = total + torch.relu(d_ap + p[i] @ cand[j] + 0.5)
    _check(value, total / (2 * 4 * 8), raw)


def test_transitive_negatives_are_violators_half_of_them_among_the_hardest():
    torch.manual_seed(1)
    _, batch = _batch(1, b=12, d=3)
    z, p = batch.z.detach(), batch.z_pos.detach()
    chosen = choose_negatives(z, p, 1.0, 4)
    cand = torch.cat([z, p])
    crowded = 0
    for i in range(12):
        similarity = z[i] @ cand.T
        violates = -(z[i] @ p[i]) + similarity + 1.0 > 0
        violates[[i, 12 + i]] = False
        picked = torch.nonzero(chosen[i]).flatten()
        assert violates[picked].all() and not chosen[i, [i, 12 + i]].any()
        assert len(picked) == min(4, int(violates.sum()))
        if violates.sum() > 4:
            found = torch.nonzero(violates).flatten()
            ranked = found[similarity[found].argsort(descending=True)]
            assert len(set(picked.tolist()) & set(ranked[:4].tolist())) >= 2
            crowded += 1
    assert crowded > 0  # the hard/random draw was exercised


def test_sepclr_is_its_four_terms():
    b, half = 6, 3
    raw, batch = _batch(2, b=b, d=2 * half, labels=[0, 1, 0, 1, 1, 0], dtype=torch.float32)
    loss_fn = create_loss("sepclr", tau=0.5, hidden=5)
    torch.manual_seed(0)
    loss_fn.build(2 * half)
    value = loss_fn(batch)
    tau = 0.5

    def heads(z):
        common = loss_fn.common_head(z[:, :half])
        return common / common.norm(dim=1, keepdim=True), loss_fn.salient_head(z[:, half:])

    def align(x, y):
        return sum(((x[i] - y[i]) ** 2).sum() / (2 * tau) for i in range(len(x))) / len(x)

    def uniform(x):
        pairs = [
            torch.exp(-((x[i] - x[j]) ** 2).sum() / (2 * tau))
            for i in range(len(x))
            for j in range(i + 1, len(x))
        ]
        return torch.log(sum(pairs) / len(pairs))

    def jem(c, s):
        rows = []
        for i in range(len(c)):
            k = [
                torch.exp(-((c[i] - c[j]) ** 2).sum() / (2 * tau))
                * torch.exp(-((s[i] - s[j]) ** 2).sum() / (2 * tau))
                for j in range(len(c))
            ]
            rows.append(torch.log(sum(k) / len(k)))
        return sum(rows) / len(rows)

    (c1, s1), (c2, s2) = heads(batch.z), heads(batch.z_pos)
    target = [i for i in range(b) if batch.labels[i] == 1]
    back = [i for i in range(b) if batch.labels[i] == 0]
    keep = torch.tensor([[float(batch.labels[i] == 1)] for i in range(b)])
    n1, n2 = s1 * keep, s2 * keep
    common = align(c1, c2) + 2 * (uniform(c1) + uniform(c2)) / 2
    salient = align(s1[target], s2[target]) + 2 * (uniform(n1) + uniform(n2)) / 2
    reg = (align(n1[back], s1[back]) + align(n2[back], s2[back])) / 2
    entropy = (jem(c1, n1) + jem(c2, n2)) / 2
    reference = common + 1000 * salient + 1000 * reg + 10 * entropy
    torch.testing.assert_close(value, reference, rtol=1e-4, atol=1e-3)
    (one,) = torch.autograd.grad(value, raw, retain_graph=True)
    (two,) = torch.autograd.grad(reference, raw, retain_graph=True)
    torch.testing.assert_close(one, two, rtol=1e-3, atol=1e-2)


def test_sepclr_heads_have_the_official_batch_norm():
    """Issue 24, item 10: every official SepCLR architecture projects with Linear–BatchNorm–
    ReLU–Linear (ours lacked the BatchNorm); in eval mode the heads use running statistics, so
    a held-out pass neither depends on its batch nor changes them."""
    loss_fn = create_loss("sepclr", hidden=8)
    loss_fn.build(6)
    for head in (loss_fn.common_head, loss_fn.salient_head):
        kinds = [type(m) for m in head]
        assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    loss_fn.eval()
    z = torch.randn(10, 6)
    before = loss_fn.common_head[1].running_mean.clone()
    alone = loss_fn.heads(z[:1])[1]
    torch.testing.assert_close(alone, loss_fn.heads(z)[1][:1])
    torch.testing.assert_close(loss_fn.common_head[1].running_mean, before)


def test_sepclr_refuses_an_odd_width():
    with pytest.raises(ValueError, match="halves"):
        create_loss("sepclr").build(7)


def test_simlap_is_infonce_in_each_pair_gated_subspace():
    labels = [0, 1, 2, 0, 1, 2, 0]
    b = len(labels)
    raw, batch = _batch(3, b=b, d=5, labels=labels)
    loss_fn = create_loss("simlap", tau=0.2, penalty=0.05, hidden=4)
    loss_fn.prepare(None, torch.tensor(labels).numpy(), None)
    torch.manual_seed(0)
    loss_fn.build(5)
    loss_fn.double()
    value = loss_fn(batch)
    partners = loss_fn.last_partners_
    y = batch.labels
    cand = torch.cat([batch.z, batch.z_pos])
    cand_y = torch.cat([y, y])

    def term(i, positive, gate):
        a = gate * batch.z[i]
        a = a / a.norm()
        logits = {}
        for k in range(2 * b):
            same_pair = cand_y[k] in (y[i], cand_y[positive])
            if k == i or (same_pair and k != positive):
                continue
            c = gate * cand[k]
            logits[k] = (a @ (c / c.norm())) / 0.2
        top = torch.stack(list(logits.values()))
        return -(logits[positive] - torch.logsumexp(top, 0))

    gates, same, cross = [], [], []
    for i in range(b):
        g = loss_fn.gate(y[i : i + 1], y[i : i + 1])[0]
        gates.append(g)
        same.append(term(i, b + i, g))
        j = int(partners[i])
        g = loss_fn.gate(y[i : i + 1], y[j : j + 1])[0]
        assert y[j] != y[i]
        gates.append(g)
        cross.append(term(i, j, g))
    gate = torch.stack(gates)
    reference = (torch.stack(same).mean() + torch.stack(cross).mean()) / 2
    reference = reference + 0.05 * (gate * (1 - gate)).mean()
    _check(value, reference, raw)


def test_simlap_gates_are_symmetric_in_the_class_pair():
    loss_fn = create_loss("simlap", hidden=4)
    loss_fn.prepare(None, torch.tensor([0, 1, 2]).numpy(), None)
    loss_fn.build(6)
    a, c = torch.tensor([0, 2]), torch.tensor([1, 0])
    torch.testing.assert_close(loss_fn.gate(a, c), loss_fn.gate(c, a))
