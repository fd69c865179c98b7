"""Regularizers that plug into attention-MIL training: `MILClassifier(regularizers=["aem"])`.

A regularizer sees the packed forward pass (attention, its logits, the bag segments) and
returns a term added to the cross-entropy. Names may carry a strength: "aem:0.05".
- `aem` (Zhang et al. 2024, Attention Entropy Maximization): λ·Σ_i a_i log a_i per bag,
  averaged over the bags of the step: minimising it maximises the attention entropy, so the
  model spreads attention instead of collapsing onto a few instances (λ = 0.1 by default).
- `mhim` (Tang et al. 2023): an EMA teacher's most-attended instances are partly hidden from
  the student, with a random half of every bag (the official ABMIL setting), plus a
  teacher–student consistency term (see `MHIM`);
- `scmil` (Juyal et al. 2024): supervised contrastive loss on bag embeddings, handing over to
  cross-entropy along a curriculum (see `SCMIL`).
"""

from __future__ import annotations

import math

import torch

from headstart.exceptions import DataError
from headstart.heads.tensors import ema_update
from headstart.mil.aggregators import segment_sum
from headstart.registry import Registry

REGULARIZERS: Registry = Registry("regularizer")


def negative_entropy(attention: torch.Tensor, segments: torch.Tensor, n: int) -> torch.Tensor:
    """Σ_i a_i log a_i of each bag (B,): 0 for one-hot attention, −log n_b for uniform."""
    terms = attention * torch.log(attention.clamp(min=1e-12))
    return segment_sum(terms, segments, n)


class AEM:
    """Attention-entropy maximisation: λ · mean over bags of Σ_i a_i log a_i."""

    needs_attention = True
    needs_teacher = False
    needs_embeddings = False

    def __init__(self, strength: float = 0.1) -> None:
        self.strength = strength

    def __call__(self, attention: torch.Tensor, segments: torch.Tensor, n: int) -> torch.Tensor:
        return self.strength * negative_entropy(attention, segments, n).mean()


REGULARIZERS.register("aem", "attention entropy maximisation (λ, default 0.1)")(AEM)


def ceil(value: float) -> int:
    """⌈value⌉ that ignores floating-point dust (1000 · 0.015/0.5 is 30.000000000000004)."""
    return math.ceil(round(value, 9))


def cosine_schedule(start: float, end: float, progress: float) -> float:
    """start → end along a half cosine as `progress` goes 0 → 1 (MHIM's cosine_scheduler)."""
    return end + 0.5 * (start - end) * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


class MHIM:
    """Masked hard instance mining (Tang et al., ICCV 2023), as a training plug-in.

    An EMA teacher sees the whole bag and ranks its instances by attention. In a bag of n
    instances the student does not see ⌈p·⌈n·`ratio`/p⌉⌉ drawn at random from the
    ⌈n·`ratio`/p⌉ the teacher attends to most (p = `drop`), nor the ⌈n·`low_ratio`⌉ least
    attended, nor a random ⌈n·`random_ratio`⌉: the counts of the official v1 code
    (`get_mask`). `ratio` decays to 0 along a cosine over training (`ratio_schedule`); the
    teacher's momentum rises to 1 along a cosine if `momentum_schedule`. The loss adds
    `weight`·CE(softmax(teacher/0.1), softmax(student/1)) on the bag embeddings. The teacher
    starts as a baseline trained first without plug-ins (`pretrained_teacher`).

    Defaults are the official MHIM-ABMIL command for CAMELYON16 (README of branch v1:
    mask_ratio_h 0.01, mask_ratio_hr 0.5, mrh_sche, mask_ratio 0.5, mask_ratio_l 0, cl_alpha
    0.1, mm 0.9999 without mm_sche); its TCGA command is ratio=0.02, drop=1, random_ratio=0.7,
    low_ratio=0.2, momentum_schedule=True, weight=0.5. Where we differ from that code:
    - the student starts from fresh weights; the official command (init_stu_type=fc) starts
      its instance projection from the baseline's (`MILClassifier` builds the student);
    - the teacher runs in eval mode; the official one runs in train mode, its dropout (0.25)
      on;
    - hidden instances get zero attention instead of being removed: the same bag embedding
      for attention pooling. The attention is the aggregator's (Ilse et al.'s tanh for
      `attention`); MHIM's own ABMIL uses ReLU and no biases (da_act relu);
    - a bag is never hidden whole: if the three masks cover it, its least-attended instance
      stays visible (the official code, made for slides of thousands of patches, would pool
      an empty bag).
    """

    needs_attention = True
    needs_teacher = True
    needs_embeddings = False

    def __init__(
        self,
        weight: float = 0.1,
        ratio: float = 0.01,
        drop: float = 0.5,
        momentum: float = 0.9999,
        teacher_temperature: float = 0.1,
        student_temperature: float = 1.0,
        pretrained_teacher: bool = True,
        ratio_schedule: bool = True,
        momentum_schedule: bool = False,
        low_ratio: float = 0.0,
        random_ratio: float = 0.5,
    ) -> None:
        for name, value in (
            ("ratio", ratio),
            ("drop", drop),
            ("low_ratio", low_ratio),
            ("random_ratio", random_ratio),
            ("momentum", momentum),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"MHIM {name} must be in [0, 1], got {value}")
        self.weight, self.ratio, self.drop, self.momentum = weight, ratio, drop, momentum
        self.pretrained_teacher = pretrained_teacher
        self.teacher_temperature = teacher_temperature
        self.student_temperature = student_temperature
        self.ratio_schedule, self.momentum_schedule = ratio_schedule, momentum_schedule
        self.low_ratio, self.random_ratio = low_ratio, random_ratio

    def hard_counts(self, size: int, progress: float = 0.0) -> tuple[int, int]:
        """(pool, hidden): how many top-attended instances form the pool, how many of them
        the student does not see, in a bag of `size` at `progress` (0 → 1) of training."""
        ratio = cosine_schedule(self.ratio, 0.0, progress) if self.ratio_schedule else self.ratio
        if ratio <= 0 or self.drop <= 0:
            return 0, 0
        share, drop = ratio / self.drop, self.drop
        if share > 1:  # the pool would exceed the bag: hide `ratio` of all of it
            share, drop = 1.0, ratio
        pool = min(size, ceil(size * share))
        return pool, min(pool, ceil(pool * drop))

    def choose(
        self,
        attention: torch.Tensor,
        segments: torch.Tensor,
        n: int,
        generator: torch.Generator,
        progress: float = 0.0,
    ) -> torch.Tensor:
        """(N,) bool: the instances hidden from the student."""
        hidden = torch.zeros_like(attention, dtype=torch.bool)
        for bag in range(n):
            rows = torch.nonzero(segments == bag).squeeze(1)
            scores = attention[rows]
            pool, count = self.hard_counts(len(rows), progress)
            if count:
                top = torch.topk(scores, pool).indices
                pick = torch.randperm(pool, generator=generator)[:count].to(top.device)
                hidden[rows[top[pick]]] = True
            low = ceil(len(rows) * self.low_ratio)
            if low:
                hidden[rows[torch.topk(scores, low, largest=False).indices]] = True
            spread = ceil(len(rows) * self.random_ratio)
            if spread:
                hidden[rows[torch.randperm(len(rows), generator=generator)[:spread]]] = True
            if hidden[rows].all():  # keep the least attended: the student needs one instance
                hidden[rows[torch.argmin(scores)]] = False
        return hidden

    def consistency(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        target = torch.softmax(teacher / self.teacher_temperature, dim=1)
        log_q = torch.log_softmax(student / self.student_temperature, dim=1)
        return self.weight * -(target * log_q).sum(1).mean()

    def momentum_at(self, progress: float) -> float:
        """The teacher's EMA momentum at `progress` of training."""
        if not self.momentum_schedule:
            return self.momentum
        return cosine_schedule(self.momentum, 1.0, progress)

    @torch.no_grad()
    def update(
        self, teacher: torch.nn.Module, student: torch.nn.Module, progress: float = 0.0
    ) -> None:
        """teacher ← m·teacher + (1 − m)·student, m = `momentum_at(progress)`."""
        ema_update(teacher, student, self.momentum_at(progress))


REGULARIZERS.register(
    "mhim",
    "masked hard instance mining with an EMA teacher",
    variant="official MHIM-ABMIL CAMELYON16 masks and momentum, but the student starts from "
    "fresh weights (official: the baseline's instance projection), the teacher runs without "
    "dropout, and a bag is never hidden whole",
)(MHIM)


def supervised_contrastive(
    embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07
) -> torch.Tensor:
    """SupCon (Khosla et al. 2020) over a batch: for every anchor with at least one positive,
    −mean over its positives p of log(exp(z·z_p/τ) / Σ_{a≠anchor} exp(z·z_a/τ)), averaged."""
    z = torch.nn.functional.normalize(embeddings, dim=1)
    similarity = z @ z.T / temperature
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    similarity = similarity.masked_fill(self_mask, float("-inf"))
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    counts = positives.sum(1)
    anchors = counts > 0
    if not anchors.any():
        return embeddings.new_zeros(())
    per_anchor = log_prob.masked_fill(~positives, 0.0).sum(1)[anchors] / counts[anchors]
    return -per_anchor.mean()


class SCMIL:
    """SC-MIL (Juyal et al., WACV 2024): a bag-level supervised contrastive term with a
    curriculum, L = (1 − β_t)·SupCon(bag embeddings) + β_t·CE, β_t rising linearly from 0 to 1
    over the first `warmup` share of the epochs. Early stopping picks an epoch only once the
    curriculum has finished (`settled_epoch`). (SupCon acts on the normalised bag embeddings
    directly; the paper adds a projection head.)"""

    needs_attention = False
    needs_teacher = False
    needs_embeddings = True

    def __init__(self, temperature: float = 0.07, warmup: float = 1.0) -> None:
        self.temperature, self.warmup = temperature, warmup

    def settled_epoch(self, epochs: int) -> int:
        """The first epoch trained on cross-entropy alone: early stopping may not keep an
        earlier one (a half-contrastive model is not the method's result)."""
        return math.ceil(self.warmup * (epochs - 1))

    def combine(
        self, cross_entropy: torch.Tensor, pooled: torch.Tensor, y: torch.Tensor, progress: float
    ) -> torch.Tensor:
        beta = min(1.0, progress / self.warmup) if self.warmup > 0 else 1.0
        contrastive = supervised_contrastive(pooled, y, self.temperature)
        return beta * cross_entropy + (1 - beta) * contrastive


REGULARIZERS.register(
    "scmil",
    "bag-level supervised contrastive term with a curriculum",
    variant="SupCon on the normalised bag embeddings directly (the paper: a projection head)",
)(SCMIL)


def create_regularizer(spec: str) -> AEM | MHIM | SCMIL:
    """ "name", "name:value" (AEM's λ, MHIM's consistency weight, SC-MIL's τ) or
    "name:key=value;key=value" (any option, e.g. "mhim:random_ratio=0;ratio=0.03")."""
    name, _, value = spec.partition(":")
    if not value:
        return REGULARIZERS.create(name)
    if "=" not in value:
        key = {"mhim": "weight", "scmil": "temperature"}.get(name, "strength")
        return REGULARIZERS.create(name, **{key: option_value(spec, value)})
    options = {}
    for item in value.split(";"):
        key, equals, text = item.partition("=")
        if not equals:
            raise DataError(f"regularizer {spec!r}: {item!r} is not key=value")
        options[key.strip()] = option_value(spec, text.strip())
    return REGULARIZERS.create(name, **options)


def option_value(spec: str, text: str) -> float | bool:
    """A number, or true/false, from a regularizer spec."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        raise DataError(f"regularizer {spec!r}: {text!r} is not a number or true/false") from None
