"""Multiple-instance learning: bags, classic sets, aggregators and the batched classifier."""

import numpy as np
import pytest
import torch
from conftest import FASHION_MNIST

from headstart.exceptions import DataError
from headstart.mil import AGGREGATORS, Bags, MILClassifier, load_bags


def toy_bags(n_bags=60, dim=6, seed=0, sizes=(3, 12), hits=(1, 3)):
    """Positive bags hold at least one instance shifted along the first feature."""
    rng = np.random.default_rng(seed)
    bags, labels, key = [], [], []
    for b in range(n_bags):
        size = int(rng.integers(*sizes))
        x = rng.normal(size=(size, dim))
        label = b % 2
        marks = np.zeros(size, int)
        if label:
            hit = rng.choice(size, size=int(rng.integers(*hits)), replace=False)
            x[hit, 0] += 4.0
            marks[hit] = 1
        bags.append(x)
        labels.append(label)
        key.append(marks)
    return Bags.from_list(bags, labels, instance_labels=np.concatenate(key))


def test_classic_sets_load_with_bag_labels():
    musk1 = load_bags("musk1")
    assert len(musk1) == 92 and musk1.dim == 166 and len(musk1.instances) == 476
    assert musk1.labels.sum() == 47  # 47 positive, 45 negative bags
    elephant = load_bags("elephant")
    assert len(elephant) == 200 and elephant.dim == 230 and elephant.labels.sum() == 100


@pytest.mark.parametrize("name", AGGREGATORS.names())
def test_aggregators_are_permutation_invariant_and_bags_independent(name):
    torch.manual_seed(0)
    pool = AGGREGATORS.create(name, dim=8, attention_dim=5).eval()  # no training-time masking
    bags = toy_bags(dim=8)
    x, segments = bags.packed(np.arange(5))
    pooled = pool(x, segments, 5)[0]
    invariant = getattr(pool, "order_invariant", True)  # MambaMIL reads a sequence
    for row in range(5):
        own = x[segments == row]
        shuffled = own[torch.randperm(len(own))] if invariant else own
        alone = pool(shuffled, torch.zeros(len(own), dtype=torch.long), 1)[0]
        np.testing.assert_allclose(alone.detach(), pooled[row : row + 1].detach(), atol=1e-5)


def test_bad_bags_are_named():
    good = np.ones((3, 4))
    with pytest.raises(DataError, match=r"bag 'b' \(#1\) is empty"):
        Bags.from_list([good, np.ones((0, 4))], [0, 1], ids=["a", "b"])
    with pytest.raises(DataError, match=r"bag 'b' \(#1\) has shape \(3, 5\)"):
        Bags.from_list([good, np.ones((3, 5))], [0, 1], ids=["a", "b"])
    nan = good.copy()
    nan[2, 1] = np.nan
    with pytest.raises(
        DataError, match=r"bag 'b' \(#1\) has a NaN or infinite value in instance 2"
    ):
        Bags.from_list([good, nan], [0, 1], ids=["a", "b"])
    with pytest.raises(DataError, match="single class"):
        MILClassifier(epochs=1).fit(Bags.from_list([good, good], [1, 1]))


def test_batched_training_learns_and_attends_to_the_key_instances(tmp_path):
    bags = toy_bags(n_bags=120)
    train, test = bags.subset(np.arange(80)), bags.subset(np.arange(80, 120))
    model = MILClassifier("gated", hidden=32, attention_dim=16, epochs=60, lr=1e-2).fit(train)
    assert (model.predict(test) == test.labels).mean() >= 0.9
    scores = model.instance_scores(test)
    positive = [i for i in range(len(test)) if test.labels[i] == 1]
    on_key = [
        test.instance_labels[test.offsets[i] : test.offsets[i + 1]][scores[i].argmax()] == 1
        for i in positive
    ]
    assert np.mean(on_key) > 0.8  # the highest attention falls on a key instance
    for attention, size in zip(scores, test.sizes, strict=True):
        assert len(attention) == size and abs(attention.sum() - 1) < 1e-5
    model.save(tmp_path / "mil")
    again = MILClassifier.load(tmp_path / "mil")
    np.testing.assert_allclose(again.predict_proba(test), model.predict_proba(test), atol=1e-6)
    with pytest.raises(DataError, match="7 features per instance"):
        model.predict(Bags.from_list([np.ones((2, 7))], [0]))


@pytest.mark.parametrize("aggregator", ["attention", "mamba"])
def test_packed_batches_predict_like_one_bag_at_a_time(aggregator):
    bags = toy_bags()
    model = MILClassifier(aggregator, hidden=16, epochs=3).fit(bags)
    together = model.predict_proba(bags)
    alone = np.concatenate([model.predict_proba(bags.subset([i])) for i in range(len(bags))])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_aem_term_is_the_attention_entropy():
    from headstart.mil.regularizers import create_regularizer, negative_entropy

    attention = torch.tensor([0.5, 0.5, 0.2, 0.3, 0.5, 1.0])
    segments = torch.tensor([0, 0, 1, 1, 1, 2])
    expected = [
        0.5 * np.log(0.5) * 2,
        0.2 * np.log(0.2) + 0.3 * np.log(0.3) + 0.5 * np.log(0.5),
        0.0,
    ]
    np.testing.assert_allclose(negative_entropy(attention, segments, 3), expected, atol=1e-6)
    term = create_regularizer("aem:0.5")(attention, segments, 3)
    assert float(term) == pytest.approx(0.5 * np.mean(expected), abs=1e-6)
    bags = toy_bags()
    plain = MILClassifier("attention", epochs=15, lr=1e-2, validation_fraction=0).fit(bags)
    spread = MILClassifier(
        "attention", epochs=15, lr=1e-2, validation_fraction=0, regularizers=("aem:1.0",)
    ).fit(bags)

    def mean_entropy(model):
        return np.mean([-(a * np.log(a + 1e-12)).sum() for a in model.instance_scores(bags)])

    assert mean_entropy(spread) > mean_entropy(plain)  # the term does what it says
    with pytest.raises(ValueError, match="need an attention aggregator"):
        MILClassifier("mean", epochs=1, regularizers=("aem",)).fit(bags)


def test_mnist_bags_attention_finds_the_target_digit():
    from headstart.datasets import load_dataset
    from headstart.mil.digit_bags import train_test_bags

    digits = load_dataset("mnist5k")
    pixels = digits.items.reshape(len(digits), -1) / 255.0
    first = np.arange(len(digits)) % 5 != 0  # disjoint pools (the file is sorted by digit)
    train, test = train_test_bags(
        pixels[first],
        digits.labels[first],
        pixels[~first],
        digits.labels[~first],
        target=9,
        n_train=200,
        n_test=200,
    )
    assert train.labels.mean() == 0.5 and (train.sizes >= 1).all()
    for bags in (train, test):  # every positive bag holds a 9, no negative bag does
        has_target = [
            bags.instance_labels[bags.offsets[i] : bags.offsets[i + 1]].any()
            for i in range(len(bags))
        ]
        assert (np.array(has_target) == bags.labels.astype(bool)).all()
    model = MILClassifier("attention", hidden=64, epochs=40, lr=1e-3).fit(train)
    assert (model.predict(test) == test.labels).mean() > 0.7  # chance: 0.5 (raw pixels, MLP)
    scores = model.instance_scores(test)
    positive = np.flatnonzero(test.labels == 1)
    top_is_nine = [
        test.instance_labels[test.offsets[i] + scores[i].argmax()] == 1 for i in positive
    ]
    assert np.mean(top_is_nine) > 0.7  # highest attention on a 9 in most positive bags


def test_feature_folder_reads_slides_and_names_bad_files(tmp_path):
    import h5py

    from headstart.mil.feature_folder import read_feature_folder

    rng = np.random.default_rng(0)
    for slide, n in (("s1", 5), ("s2", 9)):
        with h5py.File(tmp_path / f"{slide}.h5", "w") as h5:
            h5["features"] = rng.normal(size=(n, 16)).astype(np.float32)
            h5["coords"] = rng.integers(0, 1000, size=(n, 2))
    labels = tmp_path / "labels.csv"
    labels.write_text("slide_id,label,group\ns1,tumor,p1\ns2,normal,p1\n")
    bags = read_feature_folder(tmp_path, labels)
    assert len(bags) == 2 and bags.sizes.tolist() == [5, 9] and bags.dim == 16
    assert bags.class_names == ["normal", "tumor"] and bags.labels.tolist() == [1, 0]
    assert bags.groups.tolist() == ["p1", "p1"]
    with h5py.File(tmp_path / "s3.h5", "w") as h5:
        h5["coords"] = np.zeros((3, 2))
    labels.write_text("slide_id,label\ns1,tumor\ns3,normal\ns4,normal\n")
    with pytest.raises(DataError) as error:
        read_feature_folder(tmp_path, labels)
    message = str(error.value)
    assert "s3.h5 has no 'features' dataset" in message and "line 4:" in message
    assert "s4.h5 does not exist" in message


def test_mil_eval_from_the_cli_uses_the_same_folds_for_every_model(tmp_path):
    from typer.testing import CliRunner

    from headstart.cli import app
    from headstart.protocol import Results

    result = CliRunner().invoke(
        app,
        [
            "mil",
            "eval",
            "--dataset",
            "musk1",
            "--models",
            "mean,attention",
            "--regularizers",
            "none,aem",
            "--folds",
            "3",
            "--repeats",
            "1",
            "--epochs",
            "5",
            "-o",
            str(tmp_path / "cv"),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = Results.load(tmp_path / "cv").rows
    heads = {r["head"] for r in rows}
    assert heads == {"mean", "attention", "attention+aem"}  # plug-ins need attention
    assert {r["metric"] for r in rows} == {"accuracy", "balanced_accuracy", "auc", "fit_seconds"}
    assert "cross-validation" in result.output


def test_selective_scan_equals_the_naive_recurrence():
    from headstart.mil.selective_scan import selective_scan

    torch.manual_seed(0)
    batch, length, dim, n = 2, 37, 5, 4
    u = torch.randn(batch, length, dim, dtype=torch.float64)
    delta = torch.nn.functional.softplus(torch.randn(batch, length, dim, dtype=torch.float64))
    A = -torch.exp(torch.randn(dim, n, dtype=torch.float64)) * 4  # strongly decaying states
    B = torch.randn(batch, length, n, dtype=torch.float64)
    C = torch.randn(batch, length, n, dtype=torch.float64)
    D = torch.randn(dim, dtype=torch.float64)
    h = torch.zeros(batch, dim, n, dtype=torch.float64)
    expected = []
    for t in range(length):  # h_t = exp(Δ_t A) h_{t−1} + Δ_t u_t B_t ; y_t = h_t C_t + D u_t
        h = (
            torch.exp(delta[:, t, :, None] * A) * h
            + (delta[:, t] * u[:, t])[..., None] * B[:, t, None, :]
        )
        expected.append(torch.einsum("bdn,bn->bd", h, C[:, t]) + D * u[:, t])
    expected = torch.stack(expected, dim=1)
    got = selective_scan(u, delta, A, B, C, D)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-9, atol=1e-9)
    # the hand-written backward against finite differences, every input
    inputs = [t[:1, :9].clone().requires_grad_() for t in (u, delta)] + [A.clone()]
    inputs += [t[:1, :9].clone() for t in (B, C)]
    inputs[2].requires_grad_()
    inputs[3].requires_grad_()
    inputs[4].requires_grad_()
    assert torch.autograd.gradcheck(lambda *a: selective_scan(*a), inputs)
    inputs[2] = A[None].repeat(1, 1, 1).requires_grad_()  # A per sequence: (B, D, N)
    assert torch.autograd.gradcheck(lambda *a: selective_scan(*a), inputs)


@pytest.mark.slow  # over 30 s on 2 cores: make test-fast skips it
def test_mamba_mil_trains_and_reads_the_sequence_in_order():
    """Also the official SR-Mamba layout: the strided order has its own convolution, x/Δ
    projections, A and D (they were shared), and the projections in and out have no bias."""
    torch.manual_seed(0)
    pool = AGGREGATORS.create("mamba", dim=8, attention_dim=5)
    block = pool.blocks[0]
    assert block.in_proj.bias is None and block.out_proj.bias is None
    plain, strided = block.branches
    for name, value in plain.named_parameters():
        other = dict(strided.named_parameters())[name]
        assert value is not other and value.shape == other.shape
    bags = toy_bags(dim=8)
    x, segments = bags.packed(np.arange(3))
    own = x[segments == 0]
    reversed_order = pool(own.flip(0), torch.zeros(len(own), dtype=torch.long), 1)[0]
    assert not torch.allclose(reversed_order, pool(x, segments, 3)[0][:1])  # order matters
    model = MILClassifier("mamba", hidden=16, attention_dim=8, epochs=25, lr=1e-2).fit(bags)
    assert (model.predict(bags) == bags.labels).mean() > 0.9


def test_mhim_masks_exactly_the_instances_it_chose():
    from headstart.mil.regularizers import MHIM

    mining = MHIM(ratio=0.5, drop=1.0, random_ratio=0.0)  # all of the top half, nothing else
    attention = torch.tensor([0.1, 0.6, 0.3, 0.5, 0.2, 0.2, 0.1])
    segments = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    hidden = mining.choose(attention, segments, 2, torch.Generator().manual_seed(0))
    # bag 0: top ⌈1.5⌉ = 2 of (0.1, 0.6, 0.3) → rows 1, 2; bag 1: top 2 of (0.5, 0.2, 0.2, 0.1)
    assert torch.nonzero(hidden).squeeze(1).tolist()[:2] == [1, 2] and hidden[3]
    assert int(hidden.sum()) == 4
    pool = AGGREGATORS.create("attention", dim=3, attention_dim=4)
    h = torch.randn(7, 3)
    _, weights, _ = pool(h, segments, 2, hidden)
    assert torch.all(weights[hidden] < 1e-12) and torch.allclose(
        torch.stack([weights[:3].sum(), weights[3:].sum()]), torch.ones(2)
    )  # the student never sees them; the rest still sum to one per bag
    bags = toy_bags(sizes=(20, 40), hits=(3, 6))  # MHIM hides the top instance of small bags
    model = MILClassifier(
        "attention", hidden=16, epochs=10, lr=1e-2, regularizers=("mhim:0.5",)
    ).fit(bags)
    assert (model.predict(bags) == bags.labels).mean() > 0.8
    # the teacher starts as the plain model fitted first, as in the paper
    teacher = model._teacher(bags, bags.labels, mining)
    plain = MILClassifier("attention", hidden=16, epochs=10, lr=1e-2).fit(bags).model_
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(teacher.state_dict()[name], value)
    assert not any(p.requires_grad for p in teacher.parameters())


def test_mhim_counts_and_schedules_follow_the_official_code():
    """v1's select_mask_fn: a pool of ⌈n·ratio/drop⌉ top-attended instances, ⌈pool·drop⌉ of it
    hidden (n = 1000: 30 of the top 60; the Bernoulli draw over the top 30 it replaced hid
    14.8 on average); the ratio decays to 0 and the EMA momentum rises to 1 along cosines."""
    from headstart.mil.regularizers import MHIM

    mining = MHIM(ratio=0.03, random_ratio=0.0, momentum_schedule=True)  # high mask alone
    assert mining.hard_counts(1000) == (60, 30)
    assert mining.hard_counts(1000, progress=0.5) == (30, 15)  # ratio 0.015 at mid-training
    assert mining.hard_counts(1000, progress=1.0) == (0, 0)
    assert mining.hard_counts(10) == (1, 1)
    assert MHIM(ratio=0.8, drop=0.5).hard_counts(100) == (100, 80)  # pool capped at the bag
    attention = torch.rand(1000, generator=torch.Generator().manual_seed(0))
    segments = torch.zeros(1000, dtype=torch.long)
    top60 = set(torch.topk(attention, 60).indices.tolist())
    generator = torch.Generator().manual_seed(1)
    draws = [mining.choose(attention, segments, 1, generator) for _ in range(10)]
    for hidden in draws:
        assert int(hidden.sum()) == 30 and set(torch.nonzero(hidden).squeeze(1).tolist()) <= top60
    assert len({tuple(torch.nonzero(h).squeeze(1).tolist()) for h in draws}) > 1  # random
    both = MHIM(low_ratio=0.2, random_ratio=0.1, ratio_schedule=False)
    hidden = both.choose(attention, segments, 1, generator)
    bottom = set(torch.topk(attention, 200, largest=False).indices.tolist())
    assert bottom <= set(torch.nonzero(hidden).squeeze(1).tolist())
    assert mining.momentum_at(0.0) == 0.9999 and mining.momentum_at(1.0) == 1.0
    assert mining.momentum_at(0.5) == pytest.approx(1.0 + 0.5 * (0.9999 - 1.0))
    assert MHIM(momentum_schedule=False).momentum_at(0.7) == 0.9999
    with pytest.raises(ValueError, match="MHIM low_ratio must be in"):
        MHIM(low_ratio=1.5)


def test_acmil_masks_top_instances_in_training_and_spreads_branches():
    from headstart.mil.acmil import branch_diversity

    torch.manual_seed(0)
    pool = AGGREGATORS.create("acmil", dim=6, attention_dim=4, branches=3, top_k=2, mask_drop=1.0)
    h, segments = torch.randn(9, 6), torch.tensor([0] * 5 + [1] * 4)
    pool.train()
    pool(h, segments, 2)
    attention = pool.branch_attention  # (N, M)
    raw = pool.w(torch.tanh(pool.V(h)) * torch.sigmoid(pool.U(h)))
    for rows in (torch.arange(5), torch.arange(5, 9)):
        for m in range(3):
            top = rows[torch.topk(raw[rows, m], 2).indices]
            assert torch.all(attention[top, m] < 1e-12)  # mask_drop = 1: all top-2 hidden
    # diversity = mean pairwise cosine of the branch attention vectors, per bag
    a = torch.tensor([[0.5, 0.5], [0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])
    expected = (1.0 + 0.0) / 2  # bag 0: identical branches (cos 1); bag 1: orthogonal (cos 0)
    got = branch_diversity(a, torch.tensor([0, 0, 1, 1]), 2)
    assert float(got) == pytest.approx(expected)
    model = MILClassifier("acmil", hidden=16, attention_dim=8, epochs=15, lr=1e-2)
    bags = toy_bags()
    assert (model.fit(bags).predict(bags) == bags.labels).mean() > 0.8


def test_acmil_hides_exactly_floor_k_times_p_of_the_top_k():
    """Official STKIM: per branch and bag, exactly ⌊k·p⌋ of the top-k (k = min(top_k, size))
    are hidden, all from the top-k. A Bernoulli draw per instance (the code before) hid 0 to
    k of them, varying from step to step."""
    torch.manual_seed(1)
    pool = AGGREGATORS.create("acmil", dim=6, attention_dim=4, branches=4, top_k=10, mask_drop=0.6)
    sizes = [30, 12, 7, 3]
    segments = torch.repeat_interleave(torch.arange(4), torch.tensor(sizes))
    logits = torch.randn(sum(sizes), 4)
    for _ in range(20):
        hidden = pool._challenge(logits, segments, 4)
        for bag, size in enumerate(sizes):
            rows = torch.nonzero(segments == bag).squeeze(1)
            k = min(10, size)
            for m in range(4):
                top = set(rows[torch.topk(logits[rows, m], k).indices].tolist())
                masked = set(rows[hidden[rows, m]].tolist())
                assert len(masked) == int(k * 0.6) and masked <= top


def test_scmil_supcon_term_equals_its_formula():
    from headstart.mil.regularizers import SCMIL, supervised_contrastive

    torch.manual_seed(0)
    z = torch.randn(5, 3, dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1, 2])  # the last bag has no positive: not an anchor
    unit = z / z.norm(dim=1, keepdim=True)
    expected = []
    for i in range(4):
        others = [a for a in range(5) if a != i]
        denominator = torch.logsumexp(torch.stack([unit[i] @ unit[a] / 0.5 for a in others]), 0)
        positives = [p for p in others if y[p] == y[i]]
        expected.append(-np.mean([float(unit[i] @ unit[p] / 0.5 - denominator) for p in positives]))
    got = supervised_contrastive(z, y, temperature=0.5)
    assert float(got) == pytest.approx(np.mean(expected))
    ce = torch.tensor(2.0, dtype=torch.float64)
    curriculum = SCMIL(temperature=0.5)
    assert curriculum.settled_epoch(100) == 99 and SCMIL(warmup=0.5).settled_epoch(101) == 50
    assert float(curriculum.combine(ce, z, y, 0.0)) == pytest.approx(float(got))  # all SupCon
    assert float(curriculum.combine(ce, z, y, 1.0)) == pytest.approx(2.0)  # all cross-entropy
    model = MILClassifier("mean", hidden=16, epochs=15, lr=1e-2, regularizers=("scmil",))
    bags = toy_bags()
    assert (model.fit(bags).predict(bags) == bags.labels).mean() > 0.8  # works without attention
    # early stopping keeps no epoch before the curriculum ends (it cut SC-MIL at epoch 37 of
    # 100 and kept epoch 26, a model still 74% contrastive): patience 1 cannot stop it early
    short = MILClassifier(
        "mean", hidden=16, epochs=12, lr=1e-2, patience=1, regularizers=("scmil",)
    )
    assert short.fit(bags).n_epochs_ == 12 and short.best_epoch_ == 11


def test_mil_fit_and_predict_from_the_cli(tmp_path):
    import csv

    from typer.testing import CliRunner

    from headstart.cli import app

    runner = CliRunner()
    fitted = runner.invoke(
        app,
        [
            "mil",
            "fit",
            "--dataset",
            "musk1",
            "--model",
            "gated",
            "--regularizers",
            "aem",
            "--epochs",
            "5",
            "-o",
            str(tmp_path / "model"),
        ],
    )
    assert fitted.exit_code == 0, fitted.output
    assert not list(tmp_path.rglob("*.pkl"))
    predicted = runner.invoke(
        app,
        [
            "mil",
            "predict",
            str(tmp_path / "model"),
            "--dataset",
            "musk1",
            "-o",
            str(tmp_path / "bags.csv"),
        ],
    )
    assert predicted.exit_code == 0, predicted.output
    with open(tmp_path / "bags.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 92 and {"id", "predicted", "probability", "label"} <= set(rows[0])


def test_parquet_bags_round_trip_and_label_conflicts(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = {
        "bag": ["a", "a", "b", "b", "b"],
        "label": [1, 1, 0, 0, 0],
        "group": ["p1", "p1", "p2", "p2", "p2"],
        "features": [[0.0, 1.0], [1.0, 1.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]],
    }
    pq.write_table(pa.table(rows), tmp_path / "bags.parquet")
    bags = load_bags(str(tmp_path / "bags.parquet"))
    assert bags.ids == ["a", "b"] and bags.sizes.tolist() == [2, 3]
    assert bags.labels.tolist() == [1, 0] and bags.groups.tolist() == ["p1", "p2"]
    np.testing.assert_array_equal(bags.bag(1)[:, 0], [2.0, 3.0, 4.0])
    rows["label"][1] = 0
    pq.write_table(pa.table(rows), tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"bag 'a' has rows with labels \[0, 1\]"):
        load_bags(str(tmp_path / "bad.parquet"))


def test_facile_set_model_then_few_shot_instance_head():
    """FACILE: learn instance features from set-level labels, then fit a head on few
    labelled instances in that feature space."""
    from headstart.heads import create_head

    bags = toy_bags(n_bags=100)
    set_model = MILClassifier("deepset", hidden=16, epochs=30, lr=1e-2).fit(bags)
    assert (set_model.predict(bags) == bags.labels).mean() > 0.8
    features = set_model.instance_embeddings(bags.instances)
    assert features.shape == (len(bags.instances), 16)
    labels = bags.instance_labels
    rng = np.random.default_rng(0)
    shots = np.concatenate([rng.choice(np.flatnonzero(labels == c), 5, False) for c in (0, 1)])
    head = create_head("linear-probe", C=1.0).fit(features[shots], labels[shots])
    rest = np.setdiff1d(np.arange(len(labels)), shots)
    assert (head.predict(features[rest]) == labels[rest]).mean() > 0.8  # key vs other instances


def test_self_training_mil_finds_key_instances_from_bag_labels():
    """Our self-training instance classifier (formerly mislabelled INS), unchanged."""
    from headstart.mil import SelfTrainingMIL

    bags = toy_bags(n_bags=120)
    train, test = bags.subset(np.arange(80)), bags.subset(np.arange(80, 120))
    model = SelfTrainingMIL(hidden=32, epochs=30, lr=1e-2).fit(train)
    # instances of negative bags never become positive targets
    negative = np.repeat(train.labels == 0, train.sizes)
    assert (model.instance_targets_[negative, 1] == 0).all()
    key = test.instance_labels == 1
    scores = model.instance_proba(test)
    assert scores[key].mean() > scores[~key].mean() + 0.3  # key instances found, unlabelled
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(test.labels, model.predict_proba(test)[:, 1]) > 0.9  # bags ranked
    with pytest.raises(DataError, match="binary bag labels"):
        SelfTrainingMIL(epochs=1).fit(Bags.from_list([np.ones((2, 6))] * 2, [1, 1]))


@pytest.mark.slow  # over 30 s on 2 cores: make test-fast skips it
def test_lenet_encoder_learns_mnist_bags_end_to_end():
    from headstart.datasets import load_dataset
    from headstart.mil.digit_bags import train_test_bags

    digits = load_dataset("mnist5k")
    pixels = digits.items.reshape(len(digits), -1) / 255.0
    test_pool = np.arange(len(digits)) % 5 == 0
    train, test = train_test_bags(
        pixels[~test_pool],
        digits.labels[~test_pool],
        pixels[test_pool],
        digits.labels[test_pool],
        n_train=100,
        n_test=100,
        mean_size=6,
        sd=1,
    )
    model = MILClassifier(
        "attention", encoder="lenet", hidden=64, epochs=12, batch_size=4, validation_fraction=0
    ).fit(train)
    assert np.unique(model.mean_).size == 1  # one statistic over all pixels, not per pixel
    assert model.instance_embeddings(test.bag(0)).shape == (test.sizes[0], 64)
    assert (model.predict(test) == test.labels).mean() > 0.8  # chance: 0.5
    with pytest.raises(DataError, match="square images"):
        MILClassifier(encoder="lenet", epochs=1).fit(toy_bags())


def test_registered_mnist_bags_use_every_image_at_most_once():
    from headstart.mil import make_bags

    bags = load_bags("mnist-bags", n_bags=120)
    assert len(bags) == 120 and bags.dim == 784 and bags.labels.mean() == 0.5
    assert len(np.unique(bags.instances, axis=0)) == len(bags.instances)
    marks = [bags.instance_labels[bags.offsets[i] : bags.offsets[i + 1]] for i in range(120)]
    assert all(m.any() == bool(label) for m, label in zip(marks, bags.labels, strict=True))
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match="ran out"):
        make_bags(rng.random((30, 4)), np.arange(30) % 3, 0, n_bags=10, unique=True)


@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian dataset-fashion-mnist not installed")
def test_fashion_mnist_bags_are_labelled_by_ankle_boots():
    bags = load_bags("fashion-mnist-bags", n_bags=300, seed=1)
    assert bags.name == "fashion-mnist-bags" and len(bags) == 300 and bags.dim == 784
    assert bags.instances.min() >= 0.0 and bags.instances.max() <= 1.0
    assert len(np.unique(bags.instances, axis=0)) == len(bags.instances)  # no image reused
    positive = [
        bags.instance_labels[bags.offsets[i] : bags.offsets[i + 1]].any() for i in range(300)
    ]
    assert np.array_equal(np.array(positive), bags.labels.astype(bool))


def test_bad_bag_inputs_are_named_not_guessed(tmp_path):
    """Issue 11: a null bag id became a bag "None", a slide listed twice with labels 0 and 1
    became two bags, string labels and NaN or truncated features gave tracebacks."""
    import h5py
    import pyarrow as pa
    import pyarrow.parquet as pq

    from headstart.mil.feature_folder import read_feature_folder

    rows = {
        "bag": ["a", None, "b"],
        "label": ["tumor", "tumor", "normal"],
        "features": [[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]],
    }
    pq.write_table(pa.table(rows), tmp_path / "null.parquet")
    with pytest.raises(DataError, match="row 1 has no 'bag'"):
        load_bags(str(tmp_path / "null.parquet"))
    rows["bag"][1] = "a"
    pq.write_table(pa.table(rows), tmp_path / "names.parquet")
    bags = load_bags(str(tmp_path / "names.parquet"))
    assert bags.class_names == ["normal", "tumor"] and bags.labels.tolist() == [1, 0]
    rows["features"][2] = [float("nan"), 0.0]
    pq.write_table(pa.table(rows), tmp_path / "nan.parquet")
    with pytest.raises(DataError, match="row 2 has NaN, infinite or missing features"):
        load_bags(str(tmp_path / "nan.parquet"))

    rng = np.random.default_rng(0)
    for slide in ("s1", "s2"):
        with h5py.File(tmp_path / f"{slide}.h5", "w") as h5:
            h5["features"] = rng.normal(size=(4, 8)).astype(np.float32)
    (tmp_path / "s3.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 20)  # truncated
    labels = tmp_path / "labels.csv"
    labels.write_text("slide_id,label\ns1,tumor\ns2,normal\ns1,normal\ns3,tumor\n")
    with pytest.raises(DataError) as error:
        read_feature_folder(tmp_path, labels)
    message = str(error.value)
    assert "line 4: slide 's1' is listed again (first on line 2)" in message
    assert "s3.h5 cannot be read as HDF5" in message


def test_mil_cli_reads_a_clam_feature_folder(tmp_path):
    """Issue 11: the library read CLAM/TRIDENT h5 folders, the MIL CLI could not."""
    import h5py
    from typer.testing import CliRunner

    from headstart.cli import app

    rng = np.random.default_rng(0)
    lines = ["slide_id,label"]
    for i in range(12):
        label = i % 2
        with h5py.File(tmp_path / f"slide{i}.h5", "w") as h5:
            h5["features"] = (rng.normal(size=(6, 8)) + 2.0 * label).astype(np.float32)
        lines.append(f"slide{i},{'tumor' if label else 'normal'}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    command = ["mil", "eval", "--dataset", str(tmp_path), "--models", "attention"]
    settings = ["--folds", "3", "--repeats", "1", "--epochs", "3", "-o", str(tmp_path / "cv")]
    result = CliRunner().invoke(app, [*command, *settings, "-q"])
    assert result.exit_code == 0, result.output
    assert load_bags(str(tmp_path)).class_names == ["normal", "tumor"]


def test_cross_validation_names_the_classes_with_too_few_bags():
    """Labels {0, 3} made `np.bincount` count two empty classes: "a class has 0 bags"."""
    from headstart.protocol.mil_cv import mil_folds

    bags = toy_bags(n_bags=12)
    bags.labels = np.where(bags.labels == 1, 3, 0)
    bags.labels[:10] = 0
    bags.labels[10:] = 3
    bags.class_names = ["negative", "b", "c", "positive"]
    with pytest.raises(DataError, match=r"class\(es\) 'positive' \(2 bags\) have fewer bags"):
        mil_folds(bags, 3, 0)
    assert len(mil_folds(bags, 2, 0)) == 2
