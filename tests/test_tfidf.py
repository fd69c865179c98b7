"""The `tfidf` encoder (issue 27): fitted on the training side only, its fitted vocabulary in
the card and the store key, the same vectors as scikit-learn's pipeline."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from headstart import api
from headstart.encoders import create_encoder
from headstart.exceptions import DataError

WORDS = {
    "sport": "match goal team league score player coach season win",
    "money": "bank market stock price trade rate fund profit loss",
}


def _corpus(path, secret="zebra"):
    """A text CSV with an official split; the word `secret` appears in test texts only."""
    rng = np.random.default_rng(0)
    rows = []
    for label, words in WORDS.items():
        vocab = words.split()
        for i in range(30):
            text = " ".join(rng.choice(vocab, 8))
            split = "test" if i % 3 == 0 else "train"
            if split == "test":
                text += f" {secret}"
            rows.append({"text": text, "label": label, "split": split})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["text", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_tfidf_is_fitted_on_training_texts_only_and_matches_scikit_learn(tmp_path):
    data = api.prepare_dataset(str(_corpus(tmp_path / "texts.csv")))
    result = api.embed(
        data, "tfidf", tmp_path / "store", progress=False, encoder_options={"dim": 5}
    )
    store = result.store
    card = store.card
    assert card.extra["fitted_on"].startswith("40 training texts")
    assert len(card.weights_sha256) == 64 and store.dim == 5
    train = [t for t, s in zip(data.items, data.split, strict=True) if s == "train"]
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2), dtype=np.float32)
    counts = vectorizer.fit_transform(train)
    assert "zebra" not in vectorizer.vocabulary_
    assert card.extra["vocabulary_terms"] == len(vectorizer.vocabulary_)
    svd = TruncatedSVD(n_components=5, random_state=0).fit(counts)
    expected = svd.transform(vectorizer.transform(list(data.items)))
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    order = [data.ids.index(i) for i in store.ids]
    np.testing.assert_allclose(store.vectors(), expected[order], atol=1e-5)


def test_other_training_texts_give_another_card_and_store_key(tmp_path):
    first = api.embed(
        str(_corpus(tmp_path / "a.csv")), "tfidf", tmp_path / "a", progress=False
    ).store
    second = api.embed(
        str(_corpus(tmp_path / "b.csv", secret="yak")), "tfidf", tmp_path / "b", progress=False
    ).store
    assert first.card.weights_sha256 == second.card.weights_sha256  # training sides agree
    assert first.key != second.key  # the test texts differ, so the datasets do
    rows = list(csv.DictReader((tmp_path / "a.csv").read_text().splitlines()))
    rows[1]["text"] = "bank goal bank goal"  # another training text: other counts, other IDF
    with open(tmp_path / "c.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["text", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    third = api.embed(str(tmp_path / "c.csv"), "tfidf", tmp_path / "c", progress=False).store
    assert third.card.weights_sha256 != first.card.weights_sha256


def test_an_unfitted_tfidf_encoder_refuses_to_encode_and_bad_options_are_named():
    encoder = create_encoder("tfidf")
    with pytest.raises(DataError, match="fitted on a training split first"):
        encoder.encode(["a text"])
    with pytest.raises(DataError, match="dim"):
        create_encoder("tfidf", dim=0)
    with pytest.raises(DataError, match="at least 3 training texts"):
        encoder.fit(["one", "two"], "a tiny set")


def test_the_card_does_not_depend_on_the_blas_thread_count(tmp_path):
    from threadpoolctl import threadpool_limits

    data = api.prepare_dataset(str(_corpus(tmp_path / "texts.csv")))
    train = [t for t, s in zip(data.items, data.split, strict=True) if s == "train"]
    with threadpool_limits(1):
        one = create_encoder("tfidf", dim=8).fit(train, "x").card.weights_sha256
    two = create_encoder("tfidf", dim=8).fit(train, "x").card.weights_sha256
    assert one == two
