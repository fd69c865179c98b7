"""`CaSED`: vocabulary-free classification (Conti et al., NeurIPS 2023).

No class list is given. For each image:
1. retrieve the `k` captions of a caption corpus nearest to the image embedding;
2. candidate names are the words of those captions (found by `caption_words`: lower case,
   letters only, at least 3 letters, no generic or function words, plural → singular), kept
   when they occur at least `min_count` times (2, as the official `FrequencyMinWordCount`)
   in the k captions together — or, where no word reaches that, as often as the most
   frequent word (the official fallback);
3. each candidate is scored twice, p_img = softmax(s·f·wᵀ) for the image and
   p_txt = softmax(s·c̄·wᵀ) for the centroid c̄ of the retrieved captions, and
   p = α·p_img + (1 − α)·p_txt (α = 0.7 as in the official configuration).
The answer is the best candidate's name. Caption and word embeddings are precomputed arrays
(captions with the encoder's text side, words in a prompt such as "a photo of a {}.").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy.special import softmax

from headstart.heads.prototype import l2_normalize

# function words and words that describe the picture, not its content
GENERIC_WORDS = (
    "the and with for from that this are was were has have had its his her their they them "
    "into onto over under about above below near some many much more most other such than "
    "then there these those what when where which while who whom whose will would can could "
    "image images photo photos picture pictures view close stock illustration background "
    "one two three four five several"
)
GENERIC = frozenset(GENERIC_WORDS.split())


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def caption_words(captions: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The candidate vocabulary of a caption corpus and its incidence matrix
    (captions × words: how many times the word occurs in the caption)."""
    per_caption = []
    for caption in captions:
        tokens = (_singular(t) for t in re.findall(r"[a-z]+", caption.lower()))
        per_caption.append([t for t in tokens if len(t) >= 3 and t not in GENERIC])
    words = sorted(set().union(*per_caption)) if per_caption else []
    column = {w: j for j, w in enumerate(words)}
    incidence = np.zeros((len(captions), len(words)), dtype=np.float32)
    for i, found in enumerate(per_caption):
        np.add.at(incidence[i], [column[w] for w in found], 1.0)
    return words, incidence


class CaSED:
    """Vocabulary-free classifier over the words of a caption corpus.

    `caption_embeddings` (C, d) and `word_embeddings` (W, d) live in the images' joint space;
    `incidence` (C, W) counts each word in each caption; `words` names the columns.
    """

    def __init__(
        self,
        caption_embeddings: np.ndarray,
        word_embeddings: np.ndarray,
        incidence: np.ndarray,
        words: Sequence[str],
        k: int = 10,
        alpha: float = 0.7,
        min_count: int = 2,
        logit_scale: float = 100.0,
    ) -> None:
        if incidence.shape != (len(caption_embeddings), len(word_embeddings)):
            raise ValueError(
                f"incidence must be (captions, words) = ({len(caption_embeddings)}, "
                f"{len(word_embeddings)}), got {incidence.shape}"
            )
        if len(words) != len(word_embeddings):
            raise ValueError(f"{len(words)} words for {len(word_embeddings)} word embeddings")
        self.captions = l2_normalize(np.asarray(caption_embeddings, np.float64))
        self.word_vectors = l2_normalize(np.asarray(word_embeddings, np.float64))
        self.incidence = np.asarray(incidence)
        self.words = list(words)
        self.k, self.alpha, self.min_count = k, alpha, min_count
        self.logit_scale = logit_scale

    def candidate_scores(self, X: np.ndarray) -> np.ndarray:
        """p (n, W) over the vocabulary; 0 for words that are not candidates of an image."""
        features = l2_normalize(np.asarray(X, np.float64))
        similarity = features @ self.captions.T
        k = min(self.k, len(self.captions))
        nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]  # (n, k)
        counts = self.incidence[nearest].sum(axis=1)  # (n, W): occurrences in the k captions
        threshold = np.minimum(self.min_count, counts.max(axis=1, keepdims=True))
        candidate = (counts > 0) & (counts >= threshold)
        centroid = l2_normalize(self.captions[nearest].mean(axis=1))
        image_logits = self.logit_scale * features @ self.word_vectors.T
        text_logits = self.logit_scale * centroid @ self.word_vectors.T
        masked = np.where(candidate, 0.0, -np.inf)
        p_image = softmax(image_logits + masked, axis=1)
        p_text = softmax(text_logits + masked, axis=1)
        return np.nan_to_num(self.alpha * p_image + (1 - self.alpha) * p_text)

    def predict_names(self, X: np.ndarray) -> list[str]:
        """The best candidate name of every image ("" when no caption gave a word)."""
        scores = self.candidate_scores(X)
        best = scores.argmax(axis=1)
        return [self.words[j] if scores[i, j] > 0 else "" for i, j in enumerate(best)]
