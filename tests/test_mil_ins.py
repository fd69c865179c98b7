"""INS (Qu et al., TCSVT 2024) against plain loops and the official code's documented steps,
and the instance-classifier registry that names it apart from our self-training model."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from test_mil import toy_bags

from headstart.exceptions import DataError
from headstart.mil import INS, INSTANCE_CLASSIFIERS, Bags, SelfTrainingMIL
from headstart.mil.ins import BagHead
from headstart.mil.ins_steps import (
    KeyQueue,
    confidence_momentum,
    moco_loss,
    prototype_labels,
    supcon_loss,
    update_confidence,
    update_prototypes,
)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These fits are many tiny steps: on shared cores a second thread only waits."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def unit_rows(rng, n, d):
    x = rng.normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_registry_names_ins_and_our_self_training_apart():
    """Would catch the old mistake: our self-training classifier exported as the INS method
    (`InstanceMILClassifier`, "INS-style") instead of under its own name."""
    import headstart.mil as mil

    assert set(INSTANCE_CLASSIFIERS.names()) == {"ins", "self-training"}
    assert isinstance(INSTANCE_CLASSIFIERS.create("ins"), INS)
    assert isinstance(INSTANCE_CLASSIFIERS.create("self-training"), SelfTrainingMIL)
    assert not hasattr(mil, "InstanceMILClassifier")
    with pytest.raises(DataError, match="has no option 'warmup'"):
        INSTANCE_CLASSIFIERS.create("ins", warmup=3)


def test_prototype_update_equals_the_official_row_by_row_loop():
    """Official `model.py`: for each row, μ[y] ← m·μ[y] + (1 − m)·q, then every prototype is
    L2-normalised once. Would catch averaging the batch first, normalising after each row,
    or weighting rows in the wrong order (the closed form's m^r)."""
    rng = np.random.default_rng(0)
    prototypes, q = unit_rows(rng, 3, 5), unit_rows(rng, 9, 5)
    labels = np.array([0, 2, 0, 0, 2, 0, 2, 2, 0])  # class 1 gets no row
    expected = prototypes.copy()
    for row, label in zip(q, labels, strict=True):
        expected[label] = 0.9 * expected[label] + 0.1 * row
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    got = update_prototypes(
        torch.tensor(prototypes), torch.tensor(q), torch.tensor(labels), momentum=0.9
    )
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)
    zero = update_prototypes(torch.zeros(2, 5), torch.tensor(q[:2]), torch.tensor([1, 1]), 0.9)
    np.testing.assert_array_equal(zero[0].numpy(), 0.0)  # an unseen class stays at zero


def test_prototype_pseudo_labels_and_confidence_update_equal_a_plain_loop():
    """`partial_loss.confidence_update`: the candidate argmax of softmax(q·μᵀ), then
    c ← φ·c + (1 − φ)·onehot and rows of negative bags reset to [1, 0]. Would catch a
    choice outside the candidate set, a wrong momentum side, or (given a positive choice for
    a negative row, which the candidate mask otherwise prevents) a missing reset."""
    rng = np.random.default_rng(1)
    q, prototypes = unit_rows(rng, 12, 4), unit_rows(rng, 2, 4)
    negative = np.arange(12) % 3 == 0
    candidates = np.stack([np.ones(12), ~negative], 1)
    confidence = rng.dirichlet([1, 1], size=12) * candidates
    confidence /= confidence.sum(1, keepdims=True)

    def reference(choices):
        expected = confidence.copy()
        for i in range(12):
            expected[i] = 0.85 * expected[i] + 0.15 * np.eye(2)[choices[i]]
            if negative[i]:
                expected[i] = [1.0, 0.0]
        return expected

    choices = []
    for i in range(12):
        scores = np.exp(q[i] @ prototypes.T)
        choices.append(int(np.argmax(scores / scores.sum() * candidates[i])))
    choice = prototype_labels(torch.tensor(q), torch.tensor(prototypes), torch.tensor(candidates))
    assert choice.tolist() == choices and 1 in choices
    got = update_confidence(torch.tensor(confidence), choice, 0.85, torch.tensor(negative))
    np.testing.assert_allclose(got.numpy(), reference(choices), atol=1e-12)
    ones = torch.ones(12, dtype=torch.long)
    got = update_confidence(torch.tensor(confidence), ones, 0.85, torch.tensor(negative))
    np.testing.assert_allclose(got.numpy(), reference([1] * 12), atol=1e-12)


def test_confidence_schedule_replays_the_official_epoch_loop():
    """The official loss starts at φ = 0.8 and `set_conf_ema_m(epoch)` runs after each epoch.
    Would catch a schedule that uses epoch e's own value or ends at 0.8."""
    epochs, start, end, current, used = 40, 0.95, 0.8, 0.8, []
    for epoch in range(epochs):
        used.append(current)  # the confidence updates of this epoch use it
        current = 1.0 * epoch / epochs * (end - start) + start
    got = [confidence_momentum(e, epochs, (start, end)) for e in range(epochs)]
    np.testing.assert_allclose(got, used, atol=1e-15)


def test_supcon_and_moco_equal_plain_loops():
    """PiCO/INS SupCon: anchors are the queries only, contrasted with [q, k, queue] minus
    themselves, positives = same pseudo-label; MoCo: own key positive, queue negative
    (τ = 0.07). Would catch anchoring the keys too, a positive set that includes the anchor,
    or the key missing from the denominator."""
    rng = np.random.default_rng(2)
    q, k, queue = unit_rows(rng, 4, 6), unit_rows(rng, 4, 6), unit_rows(rng, 7, 6)
    labels = np.array([0, 1, 1, 0])
    queue_labels = rng.integers(0, 2, 7)
    contrast = np.concatenate([q, k, queue])
    contrast_labels = np.concatenate([labels, labels, queue_labels])
    tau, losses = 0.07, []
    for i in range(4):
        others = [j for j in range(len(contrast)) if j != i]
        denominator = sum(np.exp(q[i] @ contrast[j] / tau) for j in others)
        positives = [j for j in others if contrast_labels[j] == labels[i]]
        losses.append(-np.mean([q[i] @ contrast[p] / tau - np.log(denominator) for p in positives]))
    got = supcon_loss(torch.tensor(contrast), torch.tensor(contrast_labels), 4, tau)
    assert float(got) == pytest.approx(np.mean(losses), rel=1e-10)
    moco = []
    for i in range(4):
        scores = np.exp(np.concatenate([[q[i] @ k[i]], queue @ q[i]]) / tau)
        moco.append(-np.log(scores[0] / scores.sum()))
    got = moco_loss(torch.tensor(q), torch.tensor(k), torch.tensor(queue), tau)
    assert float(got) == pytest.approx(np.mean(moco), rel=1e-10)


def test_key_queue_holds_the_last_pushed_keys_only():
    """Would catch random initial keys handed out as negatives or a wrap-around that
    overwrites the newest keys instead of the oldest."""
    queue, pushed = KeyQueue(5, 2), []
    assert len(queue.contents()[0]) == 0
    for start, n in ((0, 3), (3, 4), (7, 1), (8, 7)):
        keys = torch.arange(start, start + n, dtype=torch.float32)[:, None].repeat(1, 2)
        queue.push(keys, torch.arange(start, start + n))
        pushed.extend(range(start, start + n))
        held_keys, held_labels = queue.contents()
        assert sorted(held_labels.tolist()) == pushed[-5:]
        assert sorted(held_keys[:, 0].long().tolist()) == pushed[-5:]


def test_bag_head_equals_a_per_bag_loop():
    """The official attention head, bag by bag: z = ReLU(W₂ ReLU(W₁h)), a = softmax over the
    bag's instances of w·tanh(Vz), logits = C·Σ a z. Would catch a missing tanh, attention
    normalised across bags instead of within each, or the wrong initialisation scale."""
    torch.manual_seed(0)
    head = BagHead(hidden=8, width=16, attention_dim=4).eval()
    weights = head.mlp[1].weight.detach().numpy()
    assert abs(weights.std() - 0.01) < 0.002 and (head.mlp[1].bias == 0).all()
    for layer in (*head.mlp, head.pool.V, head.pool.w, head.classifier):
        if isinstance(layer, torch.nn.Linear):  # larger weights for a checkable output
            torch.nn.init.normal_(layer.weight, 0.0, 0.5)
            torch.nn.init.normal_(layer.bias, 0.0, 0.5)
    sizes = [3, 1, 5]
    h = torch.randn(sum(sizes), 8)
    segments = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    with torch.no_grad():
        got = head(h, segments, 3).numpy()

    def dense(layer, x):
        return x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()

    start = 0
    for b, size in enumerate(sizes):
        x = h[start : start + size].numpy()
        z = np.maximum(dense(head.mlp[4], np.maximum(dense(head.mlp[1], x), 0)), 0)
        a = dense(head.pool.w, np.tanh(dense(head.pool.V, z)))[:, 0]
        a = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
        np.testing.assert_allclose(got[b], dense(head.classifier, a @ z), atol=1e-5)
        start += size


def test_ins_trains_warm_up_on_positive_bags_and_keeps_negatives_negative():
    """Which rows each stage trains on: warm-up batches hold instances of positive bags only
    and leave the confidence uniform; afterwards every instance is seen each epoch and
    negative-bag rows stay exactly [1, 0]. Would catch a warm-up that moves pseudo-labels
    or trains on negative bags, and a negative instance drifting towards positive."""
    bags = toy_bags(n_bags=24)
    negative = np.repeat(bags.labels == 0, bags.sizes)
    seen: dict[int, list[int]] = {}
    original = INS._instance_loss

    def spy(self, x, rows, *rest):
        seen.setdefault(rest[-1], []).extend(rows.tolist())
        return original(self, x, rows, *rest)

    options = {"hidden": 16, "bag_width": 16, "bag_attention_dim": 8, "batch_size": 16}
    INS._instance_loss = spy
    try:
        warm = INS(epochs=2, warmup_epochs=2, **options).fit(bags)
        seen_in_warm_up = dict(seen)
        seen.clear()
        model = INS(epochs=3, warmup_epochs=1, **options).fit(bags)
    finally:
        INS._instance_loss = original
    positive_rows = np.flatnonzero(~negative)
    for epoch in (0, 1):
        assert sorted(seen_in_warm_up[epoch]) == positive_rows.tolist()
    uniform = np.where(negative[:, None], [1.0, 0.0], [0.5, 0.5])
    np.testing.assert_array_equal(warm.confidence_, uniform)
    for epoch in (1, 2):
        assert sorted(seen[epoch]) == list(range(len(negative)))
    np.testing.assert_array_equal(model.confidence_[negative], [[1.0, 0.0]] * negative.sum())
    assert not np.allclose(model.confidence_[~negative], 0.5)  # updated after warm-up


def test_ins_finds_the_positive_instances_of_synthetic_bags():
    """Behaviour: from bag labels alone INS ranks unseen key instances above the rest, its
    pseudo-labels single them out in training, and the bag head ranks unseen bags."""
    bags = toy_bags(n_bags=120)
    train, test = bags.subset(np.arange(80)), bags.subset(np.arange(80, 120))
    model = INS(epochs=15).fit(train)
    key = test.instance_labels == 1
    assert roc_auc_score(key, model.instance_proba(test)) > 0.95
    assert roc_auc_score(test.labels, model.predict_proba(test)[:, 1]) > 0.95
    trained_key = train.instance_labels == 1
    positive_bag = np.repeat(train.labels == 1, train.sizes)
    assert model.confidence_[trained_key, 1].mean() > 0.5
    assert model.confidence_[positive_bag & ~trained_key, 1].mean() < 0.2
    mean = model.set_params(bag_score="mean").predict_proba(test)[:, 1]
    assert roc_auc_score(test.labels, mean) > 0.95


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"warmup_epochs": 50}, r"warmup_epochs must be an int in \[0, epochs=40\], got 50"),
        ({"bag_head_start": 40}, r"bag_head_start must be an int in \[0, epochs=40\)"),
        ({"bag_score": "top"}, r"bag_score must be one of \('attention', 'mean', 'max'\)"),
        ({"view_dropout": (0.2,)}, r"view_dropout must be two probabilities"),
        ({"hidden": 0}, r"hidden must be a positive int, got 0"),
    ],
)
def test_ins_rejects_bad_options_by_name(options, message):
    bags = toy_bags(n_bags=6)
    with pytest.raises(ValueError, match=message):
        INS(**options).fit(bags)


def test_ins_needs_both_bag_labels():
    with pytest.raises(DataError, match="INS needs binary bag labels 0 and 1"):
        INS().fit(Bags.from_list([np.ones((2, 6))] * 2, [1, 1]))
