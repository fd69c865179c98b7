"""SepCLR (Louiset et al., ICLR 2024): contrastive analysis of a target store against a
background store, checked against neurospin-projects/2024_rlouiset_sep_clr (`losses.py`,
`cifar_mnist/sep_clr_k-jem.py`).

The adapter's output is read as two halves, common c and salient s, each followed by its own
projection head (Linear–BatchNorm–ReLU–Linear, 128 hidden, as every official architecture;
the trainer's held-out pass runs it in eval mode, on the running statistics). With
τ = 0.5, align(x, y) = mean ‖x − y‖² / (2τ) and uniform(x) = log mean_{i<j} e^{−‖xᵢ − xⱼ‖²/(2τ)}:
- common: align(ĉ₁, ĉ₂) + 2 · uniform(ĉ) on unit-norm heads of both views, every item;
- salient: align(s₁, s₂) on target items only + 2 · uniform(s′), where s′ is s with background
  rows replaced by the null vector (the background has no salient information);
- regulariser: align(s′, s) on background rows, pulling their salient heads to zero;
- k-JEM: mean_i log mean_j K_c(i, j) · K_s′(i, j), Gaussian kernels e^{−‖·‖²/(2τ)} — a kernel
  estimate of the joint entropy whose minimum makes the two spaces independent;
total = common + 1000 · salient + 1000 · regulariser + 10 · k-JEM (the official weights). The
salient heads are not normalised, as in the official code. Pair.labels carries the group
(0 background, 1 target); views or neighbours stand in for the two augmentations.
"""

from __future__ import annotations

import torch
from torch import nn

from headstart.adapt.losses.base import LOSSES, ContrastiveLoss, Pair


def align(x: torch.Tensor, y: torch.Tensor, tau: float) -> torch.Tensor:
    """mean ‖x − y‖² / (2τ); zero for an empty batch."""
    if len(x) == 0:
        return x.sum() * 0.0
    return (x - y).pow(2).sum(1).div(2 * tau).mean()


def uniform(x: torch.Tensor, tau: float) -> torch.Tensor:
    """log of the mean over pairs i < j of e^{−‖xᵢ − xⱼ‖²/(2τ)}."""
    return torch.pdist(x).pow(2).mul(-1 / (2 * tau)).exp().mean().log()


def joint_entropy(c: torch.Tensor, s: torch.Tensor, tau: float) -> torch.Tensor:
    """k-JEM: mean_i log mean_j K_c(i, j) K_s(i, j), all j including i."""
    kernel_c = torch.cdist(c, c).pow(2).mul(-1 / (2 * tau)).exp()
    kernel_s = torch.cdist(s, s).pow(2).mul(-1 / (2 * tau)).exp()
    return (kernel_c * kernel_s).mean(1).log().mean()


def _head(width: int, hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, width)
    )


@LOSSES.register(
    "sepclr",
    variant="common and salient halves of one adapter's output (the paper: two encoders); "
    "views or frozen-space neighbours stand in for image augmentations",
)
class SepCLR(ContrastiveLoss):
    """Common and salient halves of the adapter's output, from a background and a target store."""

    needs_background = True
    positive_sources = ("views", "neighbours")

    def __init__(
        self,
        tau: float = 0.5,
        salient_weight: float = 1000.0,
        regulariser_weight: float = 1000.0,
        jem_weight: float = 10.0,
        hidden: int = 128,
    ) -> None:
        super().__init__(tau)
        self.weights = (salient_weight, regulariser_weight, jem_weight)
        self.hidden = hidden

    def build(self, width: int) -> None:
        if width < 2 or width % 2:
            raise ValueError(f"SepCLR splits the adapter's output in halves; width {width} is odd")
        self.common_head = _head(width // 2, self.hidden)
        self.salient_head = _head(width // 2, self.hidden)

    def heads(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(unit common head, salient head) of adapter outputs `z`."""
        half = z.shape[1] // 2
        common = nn.functional.normalize(self.common_head(z[:, :half]), dim=1)
        return common, self.salient_head(z[:, half:])

    def forward(self, batch: Pair) -> torch.Tensor:
        tau = self.tau
        (c1, s1), (c2, s2) = self.heads(batch.z), self.heads(batch.z_pos)
        target = batch.labels == 1
        background = ~target
        null1 = s1.masked_fill(background[:, None], 0.0)  # s′: background rows → 0
        null2 = s2.masked_fill(background[:, None], 0.0)
        common = align(c1, c2, tau) + (uniform(c1, tau) + uniform(c2, tau))
        salient = align(s1[target], s2[target], tau) + (uniform(null1, tau) + uniform(null2, tau))
        regulariser = (
            align(null1[background], s1[background], tau)
            + align(null2[background], s2[background], tau)
        ) / 2
        jem = (joint_entropy(c1, null1, tau) + joint_entropy(c2, null2, tau)) / 2
        w_salient, w_regulariser, w_jem = self.weights
        return common + w_salient * salient + w_regulariser * regulariser + w_jem * jem
