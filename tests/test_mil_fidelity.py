"""MIL against hand-written references (issue 24, item 12): ABMIL and gated attention against a
plain loop, SR-Mamba's reordering against the official einops rule written as index
arithmetic, and ACMIL's training loss against the official per-bag definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from headstart.mil import AGGREGATORS, MILClassifier
from headstart.mil.classifier import MILNet
from headstart.mil.mamba import MambaBlock, bag_orders
from headstart.mil.selective_scan import selective_scan

SIZES = [5, 1, 8, 3]


def packed_instances(sizes: list[int], dim: int, seed: int = 0, scale: float = 3.0):
    """Random instances (N, dim), large enough that tanh and sigmoid are far from linear."""
    generator = torch.Generator().manual_seed(seed)
    h = torch.randn(sum(sizes), dim, generator=generator, dtype=torch.float64) * scale
    segments = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    return h, segments


def loop_attention(pool, h: torch.Tensor, sizes: list[int]) -> tuple[list[float], list[list]]:
    """Ilse et al.'s a_i = softmax_i(wᵀ (tanh(V h_i) [⊙ sigm(U h_i)])) and z = Σ a_i h_i, one
    number at a time from the module's weights."""
    V, bV = pool.V.weight.tolist(), pool.V.bias.tolist()
    w, bw = pool.w.weight[0].tolist(), pool.w.bias.item()
    gate = None if pool.U is None else (pool.U.weight.tolist(), pool.U.bias.tolist())
    weights, pooled, start = [], [], 0
    for size in sizes:
        logits = []
        for row in h[start : start + size].tolist():
            total = bw
            for j in range(len(w)):
                hidden = math.tanh(sum(v * x for v, x in zip(V[j], row, strict=True)) + bV[j])
                if gate is not None:
                    pre = sum(u * x for u, x in zip(gate[0][j], row, strict=True)) + gate[1][j]
                    hidden *= 1.0 / (1.0 + math.exp(-pre))
                total += w[j] * hidden
            logits.append(total)
        top = max(logits)
        exps = [math.exp(value - top) for value in logits]
        bag = [e / sum(exps) for e in exps]
        rows = h[start : start + size].tolist()
        pooled.append(
            [sum(a * r[d] for a, r in zip(bag, rows, strict=True)) for d in range(h.shape[1])]
        )
        weights += bag
        start += size
    return weights, pooled


@pytest.mark.parametrize("name", ["attention", "gated"])
def test_abmil_attention_equals_a_hand_written_loop(name):
    """Catches a missing tanh (attention would read wᵀVh), a missing or swapped sigmoid gate
    (gated would equal plain attention, or gate with tanh), a softmax across bags instead
    of within each bag, and pooling with the logits instead of the weights: the current
    tests (permutation invariance, training accuracy) pass with any of them."""
    torch.manual_seed(0)
    pool = AGGREGATORS.create(name, dim=4, attention_dim=3).double()
    h, segments = packed_instances(SIZES, 4)
    with torch.no_grad():
        pooled, attention, _ = pool(h, segments, len(SIZES))
    weights, expected = loop_attention(pool, h, SIZES)
    np.testing.assert_allclose(attention.numpy(), weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pooled.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert (pool.U is not None) == (name == "gated")


def official_strided(size: int, rate: int) -> list[int | None]:
    """MambaMIL's transpose_normal_padding on positions 0..size−1: zero-pad to K·rate and
    rearrange "(k w) → (w k)" with w = rate, i.e. the element at padded index k·rate + w
    moves to position w·K + k (None: a padding row)."""
    blocks = -(-size // rate)
    out: list[int | None] = [None] * (blocks * rate)
    for k in range(blocks):
        for w in range(rate):
            index = k * rate + w
            out[w * blocks + k] = index if index < size else None
    return out


def official_restore(values: list, size: int, rate: int) -> list:
    """transpose_remove_padding: "(w k) → (k w)" with w = rate, then the first `size`."""
    blocks = len(values) // rate
    restored = [None] * len(values)
    for w in range(rate):
        for k in range(blocks):
            restored[k * rate + w] = values[w * blocks + k]
    return restored[:size]


@pytest.mark.parametrize("rate", [3, 4, 10])
def test_sr_mamba_reorder_follows_the_official_rearrange(rate):
    """Every bag's strided order and its way back, against the official rule. Caught: reading
    the rearrange the other way round ((w k) → (k w) on the way in: reshape(rate, K) instead
    of reshape(K, rate)), padding put first instead of last, outputs mapped back to the
    wrong rows; the current Mamba test only checks that order matters at all."""
    sizes = [7, 12, 1, 10, 23]
    segments = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    (plain, plain_real), (strided, real) = bag_orders(segments, len(sizes), rate)
    pad, start = len(segments), 0
    for bag, size in enumerate(sizes):
        expected = [pad if i is None else start + i for i in official_strided(size, rate)]
        width = strided.shape[1]
        assert strided[bag].tolist() == expected + [pad] * (width - len(expected))
        assert real[bag].tolist() == [i != pad for i in strided[bag].tolist()]
        assert plain[bag, :size].tolist() == list(range(start, start + size))
        assert not plain_real[bag, size:].any()
        start += size
    # a sequence of distinct values goes through the reorder and back to where it was
    values = list(range(100, 100 + 23))
    moved = [None if i is None else values[i] for i in official_strided(23, rate)]
    assert official_restore(moved, 23, rate) == values


def test_sr_mamba_block_equals_the_official_two_scans_per_bag():
    """The packed block against the official SR-Mamba forward written per bag: a scan of
    x, a scan of the zero-padded strided x (the padding rows go through the convolution and
    the scan, as there), the second output restored by the inverse rearrange and cropped,
    the two summed, gated by SiLU(z), projected out. Catches any reorder or restore that
    disagrees with the official one, and leaking between bags packed together."""
    torch.manual_seed(0)
    dim, rate = 6, 4
    block = MambaBlock(dim).double()
    sizes = [9, 4, 13]
    h, segments = packed_instances(sizes, dim, seed=1, scale=1.0)
    with torch.no_grad():
        got = block(h, bag_orders(segments, len(sizes), rate))
    start = 0
    for size in sizes:
        with torch.no_grad():
            x, z = block.in_proj(h[start : start + size]).chunk(2, dim=-1)
            order = official_strided(size, rate)
            padded = torch.cat([x, x.new_zeros(1, x.shape[1])])
            strided_x = padded[[size if i is None else i for i in order]]
            outputs = []
            for branch, sequence in zip(block.branches, (x, strided_x), strict=True):
                u, delta, B, C = branch.scan_inputs(sequence[None])
                A = -torch.exp(branch.A_log)
                outputs.append((selective_scan(u, delta, A, B, C) + u * branch.D)[0])
            back = official_restore(list(outputs[1]), size, rate)
            expected = block.out_proj((outputs[0] + torch.stack(back)) * F.silu(z))
        torch.testing.assert_close(got[start : start + size], expected, rtol=1e-10, atol=1e-12)
        start += size


def official_acmil_loss(net: MILNet, h: torch.Tensor, sizes: list[int], y: torch.Tensor):
    """Step3_WSI_classification_ACMIL.py's loss, one bag per step (its batch size), from
    ACMIL_GA.forward: per branch, ⌊k·p⌋ of the top-k raw logits (k = min(top_k, n)) set to
    −1e9 before the softmax; loss0 = CE of every branch's classifier on its pooled bag,
    loss1 = CE of the slide classifier on the bag pooled by the mean of the branch
    attentions, diversity = Σ_{i<j} cos(a_i, a_j) / (M(M−1)/2); averaged over the bags."""
    pool, total, start = net.pool, [], 0
    branches = pool.branches
    for bag, size in enumerate(sizes):
        x = h[start : start + size]
        A = pool.w(torch.tanh(pool.V(x)) * torch.sigmoid(pool.U(x))).T  # (M, n)
        k = min(pool.top_k, size)
        _, indices = torch.topk(A, k, dim=-1)
        chosen = torch.argsort(torch.rand(*indices.shape), dim=-1)[:, : int(k * pool.mask_drop)]
        masked = indices[torch.arange(branches)[:, None], chosen]
        keep = torch.ones(branches, size).scatter_(-1, masked, 0)
        A = A.masked_fill(keep == 0, -1e9)
        attention = torch.softmax(A, dim=1)
        branch_logits = torch.stack(
            [head(feature) for head, feature in zip(net.branch_heads, attention @ x, strict=True)]
        )
        slide_logits = net.head(attention.mean(0, keepdim=True) @ x)
        target = y[bag : bag + 1]
        loss0 = F.cross_entropy(branch_logits, target.repeat_interleave(branches))
        loss1 = F.cross_entropy(slide_logits, target)
        diversity = sum(
            F.cosine_similarity(attention[i], attention[j], dim=-1)
            for i in range(branches)
            for j in range(i + 1, branches)
        ) / (branches * (branches - 1) / 2)
        total.append(loss0 + loss1 + diversity)
        start += size
    return torch.stack(total).mean()


def test_acmil_training_loss_equals_the_official_definition():
    """The whole ACMIL loss of a packed step (slide CE + branch CEs + diversity, with STKIM's
    masks drawn from the same random numbers) against the official per-bag computation.
    Caught: branch CEs summed instead of averaged, the diversity taken on unmasked
    attention or normalised by M² or over all pairs, the mask applied after the softmax,
    a wrong number hidden, the slide pooled with unmasked attention; the current tests
    check the mask and the diversity formula apart, not the loss the model trains on."""
    torch.manual_seed(0)
    net = MILNet(6, 8, 3, "acmil", attention_dim=5, dropout=0.0).double().train()
    sizes = [14, 9, 3, 25]
    x, segments = packed_instances(sizes, 6, seed=2, scale=1.0)
    y = torch.tensor([0, 2, 1, 2])
    classifier = MILClassifier("acmil")
    classifier.model_ = net
    h = net.embed(x)
    torch.manual_seed(7)
    pooled, _, _ = net.pool(h, segments, len(sizes))
    ours = F.cross_entropy(net.head(pooled), y) + classifier._acmil_terms(segments, len(sizes), y)
    torch.manual_seed(7)
    expected = official_acmil_loss(net, h, sizes, y)
    torch.testing.assert_close(ours, expected, rtol=1e-10, atol=1e-12)
    hidden = net.pool.branch_attention < 1e-12
    assert int(hidden.sum()) == 5 * (6 + 5 + 1 + 6)  # ⌊min(10, n)·0.6⌋ per branch and bag


def test_acmil_with_one_branch_has_no_diversity_term_and_bad_settings_are_named():
    """With M = 1 the official pair loop adds nothing; the mean over M(M−1) = 0 pairs was
    0/0 = NaN, which would have turned the whole loss into NaN."""
    from headstart.mil.acmil import branch_diversity

    attention = torch.tensor([[0.2], [0.8], [1.0]])
    assert float(branch_diversity(attention, torch.tensor([0, 0, 1]), 2)) == 0.0
    with pytest.raises(ValueError, match="ACMIL mask_drop must be in"):
        AGGREGATORS.create("acmil", dim=4, mask_drop=1.5)
    with pytest.raises(ValueError, match="ACMIL branches and top_k must be ≥ 1"):
        AGGREGATORS.create("acmil", dim=4, branches=0)


def test_mhim_defaults_are_the_official_abmil_command():
    """The official MHIM-ABMIL command for CAMELYON16 (branch v1 README): mask_ratio_h 0.01
    with mrh_sche, mask_ratio_hr 0.5, mask_ratio 0.5 (random), mask_ratio_l 0, cl_alpha 0.1,
    temp_t 0.1 / temp_s 1, mm 0.9999 with no mm_sche. Caught: the defaults before (top 3%,
    no random masking, a cosine momentum) match none of the official commands."""
    from headstart.mil.regularizers import MHIM

    mining = MHIM()
    official = {
        "ratio": 0.01,
        "drop": 0.5,
        "random_ratio": 0.5,
        "low_ratio": 0.0,
        "weight": 0.1,
        "teacher_temperature": 0.1,
        "student_temperature": 1.0,
        "momentum": 0.9999,
        "ratio_schedule": True,
        "momentum_schedule": False,
        "pretrained_teacher": True,
    }
    assert {name: getattr(mining, name) for name in official} == official
    assert mining.momentum_at(0.5) == 0.9999  # mm constant without mm_sche
    # get_mask at the end of training (mask_ratio_h decayed to 0): only the random mask,
    # select_mask_fn(…, mask_ratio, random_ratio=0.001) = ⌈n·0.5⌉ of the bag at random
    attention = torch.rand(1000, generator=torch.Generator().manual_seed(0))
    segments = torch.zeros(1000, dtype=torch.long)
    generator = torch.Generator().manual_seed(1)
    draws = [mining.choose(attention, segments, 1, generator, progress=1.0) for _ in range(3)]
    assert [int(d.sum()) for d in draws] == [500, 500, 500]
    assert not torch.equal(draws[0], draws[1])
    ranks = torch.argsort(torch.argsort(attention))
    assert 300 < float(ranks[draws[0]].float().mean()) < 700  # not the top or bottom half
    # at the start: the random half ∪ ⌈0.5·⌈1000·0.02⌉⌉ = 10 of the top 20
    hidden = mining.choose(attention, segments, 1, generator, progress=0.0)
    top20 = torch.topk(attention, 20).indices
    assert 500 <= int(hidden.sum()) <= 510 and int(hidden[top20].sum()) >= 10


def test_mhim_never_hides_a_whole_bag():
    """Small bags under the official masks (a random half plus the top pool) were sometimes
    hidden whole: every logit −1e9, the softmax uniform, the student pooling the mean of
    the bag it was meant not to see. Now the least-attended instance stays visible."""
    from headstart.mil.regularizers import MHIM

    mining = MHIM()
    sizes = [1, 2, 3, 2]
    attention = torch.tensor([0.9, 0.7, 0.1, 0.5, 0.2, 0.3, 0.05, 0.95])
    segments = torch.repeat_interleave(torch.arange(4), torch.tensor(sizes))
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        hidden = mining.choose(attention, segments, 4, generator)
        for bag, size in enumerate(sizes):
            rows = torch.nonzero(segments == bag).squeeze(1)
            assert not hidden[rows].all()
            if size <= 2:  # the top one is hidden, and the random half hits it or the other
                assert rows[~hidden[rows]].tolist() == [rows[torch.argmin(attention[rows])]]


def test_regularizer_specs_reach_every_option_and_name_bad_ones():
    """The official random half hurts small bags (RESULTS.md); a spec could only set MHIM's
    weight, so neither it nor any other official setting (the TCGA command) was reachable
    from `MILClassifier(regularizers=...)` or the CLI."""
    from headstart.exceptions import DataError
    from headstart.mil.regularizers import create_regularizer

    tcga = create_regularizer(
        "mhim:weight=0.5;ratio=0.02;drop=1;random_ratio=0.7;low_ratio=0.2;momentum_schedule=true"
    )
    assert (tcga.weight, tcga.ratio, tcga.drop, tcga.random_ratio, tcga.low_ratio) == (
        0.5,
        0.02,
        1.0,
        0.7,
        0.2,
    )
    assert tcga.momentum_schedule and create_regularizer("mhim:0.3").weight == 0.3
    with pytest.raises(DataError, match="did you mean 'random_ratio'"):
        create_regularizer("mhim:random=0")
    with pytest.raises(DataError, match="'abc' is not a number or true/false"):
        create_regularizer("mhim:ratio=abc")
    with pytest.raises(DataError, match="MHIM ratio must be in"):
        create_regularizer("mhim:ratio=2")


def test_mhim_entry_names_its_variant_for_reports():
    """Reports list the methods that differ from their papers from the registry's `variant`;
    MHIM's differences (student init, teacher dropout, whole-bag guard) were in no entry."""
    from headstart.mil.regularizers import REGULARIZERS

    variants = {entry.name: entry.variant for entry in REGULARIZERS}
    assert "student starts from fresh weights" in variants["mhim"]
    assert "projection head" in variants["scmil"]
