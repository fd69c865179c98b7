"""`tfidf`: the classical text baseline — TF-IDF weights reduced by a truncated SVD (latent
semantic analysis) and L2-normalised, fitted on the training split only.

Unlike the pretrained encoders it learns from the data it embeds, so `embed` fits it first
on the split rule's training rows and unlabelled pool (never a test row) and only then
embeds every item. The card names what it was fitted on and carries a fingerprint of the
fitted vocabulary and IDF weights and of what the SVD was fitted from, so the store key
changes whenever the fitted model does. Defaults: word unigrams and bigrams, sublinear TF,
terms in ≥ 2 texts, 512 dimensions (fewer when the vocabulary or the corpus is smaller)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import sklearn

from headstart.cards import EncoderCard
from headstart.encoders.base import Encoder
from headstart.encoders.registry import ENCODERS
from headstart.encoders.sentence import prepare_text
from headstart.exceptions import DataError
from headstart.vector_index import unit_rows


class TfidfEncoder(Encoder):
    """TF-IDF + truncated SVD behind the `Encoder` contract; `fit` before `encode_batch`."""

    needs_fit = True
    default_templates = ("{}",)

    def __init__(self, dim: int, ngram_max: int, min_df: int, max_features: int) -> None:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.parameters = {
            "dim": dim,
            "ngram_max": ngram_max,
            "min_df": min_df,
            "max_features": max_features,
        }
        self.vectorizer = TfidfVectorizer(
            sublinear_tf=True,
            min_df=min_df,
            ngram_range=(1, ngram_max),
            max_features=max_features,
            dtype=np.float32,
        )
        self.svd = TruncatedSVD(n_components=dim, random_state=0)
        self.fitted = False
        self.preprocessor = prepare_text
        self.card = self._card(dim, "not fitted", "", {})

    def fit(self, texts: Sequence[str], where: str) -> TfidfEncoder:
        """Learn the vocabulary, IDF and SVD from `texts` (the training side of `where`)."""
        if len(texts) < 3:
            raise DataError(f"tfidf needs at least 3 training texts in {where}; got {len(texts)}")
        try:
            counts = self.vectorizer.fit_transform(list(texts))
        except ValueError as error:  # an empty vocabulary (min_df too high, no words)
            raise DataError(f"tfidf could not build a vocabulary from {where}: {error}") from error
        dim = min(self.parameters["dim"], counts.shape[1] - 1, len(texts) - 1)
        if dim < 1:
            raise DataError(f"tfidf: the vocabulary of {where} has {counts.shape[1]} term(s)")
        self.svd.set_params(n_components=dim)
        self.svd.fit(counts)
        self.fitted = True
        extra = {
            "vocabulary_terms": int(counts.shape[1]),
            "fitted_on": f"{len(texts)} training texts of {where}",
            "explained_variance": float(self.svd.explained_variance_ratio_.sum()),
            "parameters": self.parameters,
        }
        self.card = self._card(dim, f"fitted on {where}", self._fingerprint(texts), extra)
        return self

    def _fingerprint(self, texts: Sequence[str]) -> str:
        """The fitted vocabulary and IDF weights, and what the SVD was fitted from (the
        training texts, the parameters, scikit-learn's version): the SVD's float components
        themselves differ in their last bits with the BLAS thread count."""
        digest = hashlib.sha256()
        terms = sorted(self.vectorizer.vocabulary_.items(), key=lambda item: item[1])
        digest.update("\x1f".join(term for term, _ in terms).encode("utf-8"))
        digest.update(np.round(self.vectorizer.idf_, 6).astype(np.float64).tobytes())
        for text in texts:
            digest.update(hashlib.sha256(text.encode("utf-8")).digest())
        digest.update(f"{self.parameters}|{sklearn.__version__}|svd seed 0".encode())
        return digest.hexdigest()

    def _card(self, dim: int, weights: str, sha: str, extra: dict) -> EncoderCard:
        return EncoderCard(
            name="tfidf",
            modality="text",
            output_dim=dim,
            weights=weights,
            weights_sha256=sha,
            input_size=0,
            resize="",
            interpolation="",
            color="",
            preprocessing="tfidf-lsa/1",
            versions={"scikit-learn": sklearn.__version__},
            extra=extra,
        )

    def encode_batch(self, prepared: Sequence[str]) -> np.ndarray:
        if not self.fitted:
            raise DataError(
                "the tfidf encoder is fitted on a training split first: embed a dataset with "
                "it (headstart embed DATASET --encoder tfidf), which fits it on the training rows"
            )
        if not prepared:
            return np.empty((0, self.card.output_dim), np.float32)
        reduced = self.svd.transform(self.vectorizer.transform(list(prepared)))
        return unit_rows(reduced.astype(np.float32))

    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Class names or prompts in the same space (words outside the vocabulary count 0)."""
        return self.encode([prepare_text(t) for t in texts], batch_size)


@ENCODERS.register(
    "tfidf", "TF-IDF + truncated SVD (LSA), fitted on the training split: a classical text baseline"
)
def create_tfidf(
    dim: int = 512,
    ngram_max: int = 2,
    min_df: int = 2,
    max_features: int = 200_000,
    device: str = "cpu",
) -> TfidfEncoder:
    """An unfitted TF-IDF + SVD encoder; `embed` fits it on the dataset's training rows.
    It runs on the CPU (scikit-learn); another `device` is refused."""
    if device != "cpu":
        raise ValueError(f"device must be cpu (tfidf is scikit-learn on the CPU), got {device!r}")
    for name, value, least in (
        ("dim", dim, 1),
        ("ngram_max", ngram_max, 1),
        ("min_df", min_df, 1),
        ("max_features", max_features, 1),
    ):
        if not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer ≥ {least}, got {value!r}")
    return TfidfEncoder(dim, ngram_max, min_df, max_features)
