"""PAC-Bayes bounds for choosing a prompt (Akinwande, Jiang, Sam, Kolter; ICLR 2024).

A prompt template is a hypothesis: it defines a zero-shot classifier with no training. With
a prior P over the candidate prompts and the posterior a point mass on prompt h, KL = −log
P(h). With probability ≥ 1 − δ over m i.i.d. labelled items (McAllester/Maurer):

    kl(err̂ ‖ err) ≤ (KL + log(2√m / δ)) / m        ("kl-inverse", the tighter form)
    err ≤ err̂ + √((KL + log(2√m / δ)) / (2m))      ("sqrt", by Pinsker)

The prior must be fixed before seeing the labels. Stated here: uniform over the candidates
(KL = log |H|) unless the caller gives log-prior values (e.g. from a language model).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def binary_kl(q: float, p: float) -> float:
    """kl(q ‖ p) between Bernoulli(q) and Bernoulli(p)."""
    eps = 1e-12
    p = min(max(p, eps), 1 - eps)
    value = 0.0
    if q > 0:
        value += q * math.log(q / p)
    if q < 1:
        value += (1 - q) * math.log((1 - q) / (1 - p))
    return value


def kl_inverse(empirical: float, budget: float) -> float:
    """The largest p ≥ empirical with kl(empirical ‖ p) ≤ budget (bisection)."""
    low, high = empirical, 1.0
    for _ in range(100):
        middle = (low + high) / 2
        if binary_kl(empirical, middle) > budget:
            high = middle
        else:
            low = middle
    return low


def pac_bayes_bound(
    empirical_error: float, m: int, kl: float, delta: float = 0.05, form: str = "kl-inverse"
) -> float:
    """Upper bound on the true error of a hypothesis with training error `empirical_error`."""
    if m < 1 or not 0 < delta < 1 or kl < 0:
        raise ValueError(f"need m ≥ 1, 0 < delta < 1, kl ≥ 0; got {m}, {delta}, {kl}")
    budget = (kl + math.log(2 * math.sqrt(m) / delta)) / m
    if form == "kl-inverse":
        return kl_inverse(empirical_error, budget)
    if form == "sqrt":
        return min(1.0, empirical_error + math.sqrt(budget / 2))
    raise ValueError(f"form must be 'kl-inverse' or 'sqrt', got {form!r}")


@dataclass
class PromptBound:
    """One candidate prompt: its training error, KL to the prior and bound."""

    prompt: str
    train_error: float
    kl: float
    bound: float


def rank_prompts(
    train_errors: Mapping[str, float],
    m: int,
    log_prior: Mapping[str, float] | None = None,
    delta: float = 0.05,
    form: str = "kl-inverse",
) -> list[PromptBound]:
    """Candidates sorted by bound (best first). Uniform prior when `log_prior` is None."""
    prompts: Sequence[str] = list(train_errors)
    if not prompts:
        raise ValueError("no candidate prompts")
    uniform = math.log(len(prompts))
    ranked = []
    for prompt in prompts:
        kl = uniform if log_prior is None else -float(log_prior[prompt])
        bound = pac_bayes_bound(train_errors[prompt], m, kl, delta, form)
        ranked.append(PromptBound(prompt, float(train_errors[prompt]), kl, bound))
    return sorted(ranked, key=lambda b: (b.bound, b.prompt))
