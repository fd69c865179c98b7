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
