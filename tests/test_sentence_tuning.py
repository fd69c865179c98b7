"""Issue 15, item 5: SetFit-style fine-tuning of the MiniLM body — the pair objective against
SetFit's balanced pair list, the batches, and a real (tiny) run saved and reloaded as an
encoder of its own; test texts never trained on; bad folders refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from headstart import api
from headstart.adapt.sentence_tuning import TuneSettings, balanced_batches, pair_loss
from headstart.encoders import create_encoder
from headstart.exceptions import DataError, HeadstartError


def test_pair_loss_is_setfits_squared_error_over_a_balanced_pair_list():
    """SetFit: every pair i ≤ j, target 1 (same label) or 0, the rarer kind repeated until
    both are equally many; the mean squared error of the cosine over that list."""
    generator = torch.Generator().manual_seed(0)
    raw = torch.randn(7, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 2, 1, 0, 2])
    positive, negative = [], []
    for i in range(7):
        for j in range(i, 7):
            cosine = torch.nn.functional.cosine_similarity(raw[i], raw[j], dim=0)
            (positive if labels[i] == labels[j] else negative).append(
                (cosine, float(labels[i] == labels[j]))
            )
    length = math.lcm(len(positive), len(negative))  # exact balance by repetition
    pairs = positive * (length // len(positive)) + negative * (length // len(negative))
    reference = torch.stack([(c - t) ** 2 for c, t in pairs]).mean()
    value = pair_loss(raw, labels)
    torch.testing.assert_close(value, reference)
    (one,) = torch.autograd.grad(value, raw, retain_graph=True)
    (two,) = torch.autograd.grad(reference, raw)
    torch.testing.assert_close(one, two)


def test_balanced_batches_cover_every_text_once_with_same_class_runs():
    labels = np.repeat(np.arange(5), 8)
    settings = TuneSettings(batch_size=12, per_class=4)
    batches = balanced_batches(labels, settings, np.random.default_rng(0))
    together = np.concatenate(batches)
    assert sorted(together.tolist()) == list(range(40))
    assert all(len(b) >= 12 for b in batches[:-1])
    for batch in batches:  # every batch holds same-class pairs
        assert np.bincount(labels[batch]).max() >= 2


def _corpus(tmp_path):
    finance = [
        "shares fell sharply",
        "the bank raised rates",
        "profits rose this quarter",
        "stocks rallied on earnings",
        "the market closed lower",
        "bond yields climbed",
    ]
    sport = [
        "the team won the final",
        "a late goal sealed it",
        "the striker scored twice",
        "fans cheered the champions",
        "the coach praised the defence",
        "they lost on penalties",
    ]
    rows = ["text,label,split,id"]
    for k, (a, b) in enumerate(zip(finance, sport, strict=True)):
        split = "test" if k >= 4 else "train"
        rows += [f"{a},finance,{split},f{k}", f"{b},sport,{split},s{k}"]
    path = tmp_path / "corpus.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_tuned_minilm_is_saved_and_embeds_as_its_own_encoder(tmp_path):
    corpus = _corpus(tmp_path)
    settings = TuneSettings(epochs=3, batch_size=4, per_class=2, lr=5e-5, max_length=16)
    history = api.tune_encoder(
        str(corpus), tmp_path / "tuned", "minilm", settings=settings, progress=False
    )
    assert history["texts"] == 8 and len(history["loss"]) == 3
    meta = (tmp_path / "tuned" / "headstart-encoder.json").read_text()
    assert '"f4"' not in meta and '"s5"' not in meta  # test texts never trained on
    tuned = create_encoder(f"tuned:{tmp_path / 'tuned'}")
    base = create_encoder("minilm")
    assert "+tuned:" in tuned.card.name and tuned.card.digest() != base.card.digest()
    texts = ["shares fell sharply", "the team won the final"]
    assert not np.allclose(tuned.encode_text(texts), base.encode_text(texts))
    two = api.tune_encoder(
        str(corpus), tmp_path / "two", "minilm", shots=2, settings=settings, progress=False
    )
    assert two["texts"] == 4  # 2 per class

    weights = tmp_path / "tuned" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(DataError, match="does not match the sha256"):
        create_encoder(f"tuned:{tmp_path / 'tuned'}")
    (tmp_path / "two" / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(DataError, match="pickled"):
        create_encoder(f"tuned:{tmp_path / 'two'}")
    with pytest.raises(HeadstartError, match="not saved by `headstart adapt`"):
        create_encoder(f"tuned:{tmp_path}")


def test_fine_tuning_refuses_images_and_existing_folders(tmp_path):
    with pytest.raises(DataError, match="needs texts; digits holds images"):
        api.tune_encoder("digits", tmp_path / "x", progress=False)
    (tmp_path / "y").mkdir()
    with pytest.raises(DataError, match="exists already"):
        api.tune_encoder("digits", tmp_path / "y", progress=False)


def test_an_interrupted_save_leaves_no_tuned_folder(tmp_path):
    from types import SimpleNamespace

    from headstart.encoders.tuned_sentence import save_tuned

    def dies_half_way(folder, safe_serialization):
        (tmp_path / ".tuned.partial" / "model.safetensors").parent.mkdir(exist_ok=True)
        (tmp_path / ".tuned.partial" / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    encoder = SimpleNamespace(model=SimpleNamespace(save=dies_half_way))
    with pytest.raises(KeyboardInterrupt):
        save_tuned(tmp_path / "tuned", encoder, TuneSettings(), {}, [])
    assert not (tmp_path / "tuned").exists()


def test_a_broken_tuned_folder_is_named_not_a_traceback(tmp_path):
    (tmp_path / "headstart-encoder.json").write_text("{not json")
    with pytest.raises(DataError, match="is not valid JSON"):
        create_encoder(f"tuned:{tmp_path}")
    (tmp_path / "headstart-encoder.json").write_text("{}")
    with pytest.raises(HeadstartError, match=r"has no model\.safetensors"):
        create_encoder(f"tuned:{tmp_path}")
