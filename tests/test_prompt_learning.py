"""Issue 30: the differentiable text side — learned context through the frozen MiniLM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headstart.encoders import create_encoder
from headstart.exceptions import DataError
from headstart.prompt_learning import PromptTextEncoder

NAMES = ["cat", "t-shirt/top", "ankle boot", "comp.sys.ibm.pc.hardware"]


@pytest.fixture(scope="module")
def minilm():
    return create_encoder("minilm")


def test_hand_prompt_as_context_equals_sentence_transformers(minilm):
    side = PromptTextEncoder(minilm.model, NAMES, n_ctx=4)
    context = side.embed_words(minilm.model[0].tokenizer, "a photo of a")
    assert context.shape == (4, side.width)
    with torch.no_grad():
        ours = side(context).numpy()
    theirs = minilm.model.encode([f"a photo of a {n}." for n in NAMES], convert_to_numpy=True)
    assert np.abs(ours - theirs).max() < 1e-5
    # class-specific context: each class its own words, the same result
    with torch.no_grad():
        per_class = side(context.unsqueeze(0).repeat(len(NAMES), 1, 1)).numpy()
    assert np.abs(per_class - theirs).max() < 1e-5


def test_gradients_reach_only_the_context(minilm):
    side = PromptTextEncoder(minilm.model, NAMES[:2], n_ctx=3)
    before = {k: v.clone() for k, v in side.bert.state_dict().items()}
    context = torch.nn.Parameter(torch.randn(3, side.width) * 0.02)
    optimiser = torch.optim.SGD([context], lr=0.1)
    side.train()
    assert not side.bert.training  # no dropout in the frozen encoder
    for _ in range(3):
        loss = -side(context)[0] @ side(context)[1]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert context.grad is not None and context.grad.abs().sum() > 0
    assert all(p.grad is None for p in side.bert.parameters())
    after = side.bert.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_bad_prompt_settings_are_named(minilm):
    with pytest.raises(DataError, match="at least 1 slot"):
        PromptTextEncoder(minilm.model, NAMES, n_ctx=0)
    with pytest.raises(DataError, match="class 1 has no name"):
        PromptTextEncoder(minilm.model, ["cat", " "], n_ctx=4)
    side = PromptTextEncoder(minilm.model, NAMES, n_ctx=4)
    with pytest.raises(DataError, match="expected"):
        side(torch.zeros(5, side.width))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _lstm_direction(x, w_ih, w_hh, b_ih, b_hh):
    """One LSTM direction by its equations (gates i, f, g, o in PyTorch's row order)."""
    hidden = w_hh.shape[1]
    h, c, out = np.zeros(hidden), np.zeros(hidden), []
    for step in x:
        gates = w_ih @ step + b_ih + w_hh @ h + b_hh
        i, f, g, o = np.split(gates, 4)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.array(out)


def test_pre_lstm_encoder_is_the_official_residual_bilstm():
    from headstart.prompt_learning.prompt_encoders import PromptEncoder

    torch.manual_seed(0)
    encoder = PromptEncoder("lstm", width=8)
    names = sorted(name for name, _ in encoder.named_parameters())
    assert names == sorted(  # the official module's layout: lstm_head, hidden d/2, both ways
        f"lstm_head.{kind}_{part}_l0{suffix}"
        for kind in ("weight", "bias")
        for part in ("ih", "hh")
        for suffix in ("", "_reverse")
    )
    assert encoder.lstm_head.weight_ih_l0.shape == (16, 8)  # 4 gates × hidden 4
    context = torch.randn(4, 8)
    with torch.no_grad():
        ours = encoder(context).numpy()
    p = {k: v.detach().numpy().astype(np.float64) for k, v in encoder.named_parameters()}
    x = context.numpy().astype(np.float64)
    forward = _lstm_direction(
        x, *(p[f"lstm_head.{k}_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    )
    backward = _lstm_direction(
        x[::-1],
        *(p[f"lstm_head.{k}_l0_reverse"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
    )[::-1]
    expected = np.concatenate([forward, backward], axis=1) + x  # the residual
    assert np.abs(ours - expected).max() < 1e-5


def test_prompt_encoders_keep_the_context_shape_and_refuse_unknown_kinds():
    from headstart.prompt_learning.prompt_encoders import PromptEncoder

    context = torch.randn(4, 16)
    for kind in ("none", "lstm", "lstm2", "mlp", "mlp2", "transformer"):
        assert PromptEncoder(kind, 16)(context).shape == (4, 16)
    mlp2 = PromptEncoder("mlp2", 16)
    assert len(list(mlp2.parameters())) == 4  # the official repeats the same two layers
    with pytest.raises(DataError, match="choose one of"):
        PromptEncoder("gru", 16)


TOPICS = {
    "sports": [
        "the team won the match in overtime",
        "she scored two goals in the final",
        "the coach praised the defense",
        "fans cheered at the stadium",
        "the striker was injured",
        "the league announced the schedule",
    ],
    "cooking": [
        "simmer the sauce for ten minutes",
        "add salt and pepper to taste",
        "bake the bread until golden",
        "chop the onions finely",
        "the recipe needs fresh basil",
        "whisk the eggs with sugar",
    ],
    "computers": [
        "the laptop needs more memory",
        "install the driver for the graphics card",
        "the compiler reported an error",
        "reboot the server after the update",
        "the cpu overheats under load",
        "format the hard disk",
    ],
    "music": [
        "the band played a new song",
        "she practices piano every day",
        "the concert sold out quickly",
        "the guitarist tuned his strings",
        "the album topped the charts",
        "the orchestra rehearsed the symphony",
    ],
}


@pytest.fixture(scope="module")
def topics(minilm):
    names = list(TOPICS)
    X = minilm.encode([t for n in names for t in TOPICS[n]])
    y = np.repeat(np.arange(len(names)), 6)
    train = np.tile([True, True, True, False, False, False], len(names))
    return names, X, y, train


def test_coop_learns_a_context_and_leaves_the_encoder_untouched(minilm, topics):
    from headstart.prompt_learning.coop import CoOp

    names, X, y, train = topics
    before = {k: v.clone() for k, v in minilm.model.state_dict().items()}
    model = CoOp(class_names=names, n_ctx=4, epochs=20).fit(X[train], y[train])
    assert model.context_.shape == (4, 384) and model.epochs_ == 20
    assert (model.predict(X[~train]) == y[~train]).mean() >= 0.75
    again = CoOp(class_names=names, n_ctx=4, epochs=20).fit(X[train], y[train])
    assert np.array_equal(again.context_, model.context_)  # seeded
    # the frozen encoder's weights are bit-identical after the fit (built from the same files)
    fitted = model._model.state_dict()
    assert all(torch.equal(before[k], fitted[k]) for k in before)
    # classes it never saw, through the learned (shared) context
    assert model.class_scores(X[:3], ["football", "baking"]).shape == (3, 2)
    csc = CoOp(class_names=names, n_ctx=2, class_specific=True, epochs=2).fit(X[train], y[train])
    assert csc.context_.shape == (4, 2, 384)
    with pytest.raises(DataError, match="only for the classes it learned"):
        csc.class_scores(X[:3], ["football"])


def test_coop_epochs_follow_the_coop_scripts_and_a_hand_init_sets_the_length(topics):
    from headstart.heads.prompt_schedule import epochs_for_shots
    from headstart.prompt_learning.coop import CoOp

    assert [epochs_for_shots(s) for s in (1, 2, 4, 8, 16)] == [50, 100, 100, 200, 200]
    names, X, y, train = topics
    model = CoOp(class_names=names, ctx_init="a text about", epochs=1).fit(X[train], y[train])
    assert model.context_.shape == (3, 384)  # "a text about" is three word pieces


def test_coop_refuses_what_it_cannot_learn(topics):
    from headstart.prompt_learning.coop import CoOp

    names, X, y, train = topics
    with pytest.raises(DataError, match="give class_names"):
        CoOp(epochs=1).fit(X[train], y[train])
    with pytest.raises(DataError, match="class 1 has no name"):
        CoOp(class_names=["a", " ", "c", "d"], epochs=1).fit(X[train], y[train])
    with pytest.raises(DataError, match="384-d"):
        CoOp(class_names=names, epochs=1).fit(X[train][:, :10], y[train])
    with pytest.raises(DataError, match="at least 1 slot"):
        CoOp(class_names=names, n_ctx=0, epochs=1).fit(X[train], y[train])


def test_coop_and_pre_run_through_eval_and_save_and_load(tmp_path, topics):
    import csv

    from headstart import api
    from headstart.persistence import load_model, save_model
    from headstart.prompt_learning import PRE

    names = list(TOPICS)
    with open(tmp_path / "topics.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for name in names:
            writer.writerows([[t, name] for t in TOPICS[name]])
    store = api.embed(str(tmp_path / "topics.csv"), "minilm", tmp_path / "store", progress=False)
    results = api.evaluate(
        store.store.root,
        ["coop", "zero-shot"],
        shots=[1],
        seeds=2,
        head_params={"coop": {"epochs": 5}},
        progress=False,
    )
    accuracy = [r for r in results.rows if r["metric"] == "accuracy"]
    assert {r["head"] for r in accuracy} == {"coop"} and len(accuracy) == 2  # two seeds
    assert all(0 <= r["value"] <= 1 for r in accuracy)
    _, X, y, train = topics
    model = PRE(class_names=names, epochs=3).fit(X[train], y[train])
    assert model.context_.shape == (4, 384)  # "a photo of a", through the residual BiLSTM
    save_model(model, tmp_path / "pre")
    loaded = load_model(tmp_path / "pre")
    assert type(loaded) is PRE and np.array_equal(loaded.predict(X), model.predict(X))


def test_permuting_test_labels_changes_no_coop_prediction(topics):
    from headstart.prompt_learning import CoOp
    from headstart.protocol.evaluate import evaluate_few_shot

    names, X, y, train = topics
    heads = {"coop": CoOp(class_names=names, n_ctx=2, epochs=3)}
    kwargs = {"heads": heads, "shots": [2], "seeds": 2}
    first = evaluate_few_shot(X[train], y[train], X[~train], y[~train], **kwargs)
    permuted = np.random.default_rng(0).permutation(y[~train])
    second = evaluate_few_shot(X[train], y[train], X[~train], permuted, **kwargs)
    for key in first.confusion:  # same predictions: column sums of the confusion matrix
        assert (np.sum(first.confusion[key], 0) == np.sum(second.confusion[key], 0)).all()


def test_cones_starts_at_zero_shot_and_learns_from_the_shots(minilm, topics):
    from headstart.heads import ConES, create_head

    names, X, y, train = topics
    texts = minilm.encode(names)
    zero = create_head("zero-shot", class_embeddings=texts).fit(X[train], y[train])
    still = ConES(class_embeddings=texts, epochs=1).fit(X[train], y[train])  # warm-up only
    assert np.array_equal(still.predict(X), zero.predict(X))  # 1e-5 barely moves it
    learned = ConES(class_embeddings=texts, epochs=30).fit(X[train], y[train])
    assert np.abs(learned.concepts_ - still.concepts_).max() > 1e-3
    train_accuracy = (learned.predict(X[train]) == y[train]).mean()
    assert train_accuracy >= (zero.predict(X[train]) == y[train]).mean()
    assert np.allclose(np.linalg.norm(learned.concepts_, axis=1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="needs class_embeddings"):
        ConES(epochs=1).fit(X[train], y[train])
