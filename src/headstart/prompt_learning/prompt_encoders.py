"""PRE's prompt encoders: the learned context re-parameterised by a small network with a
residual, ctx' = f(ctx) + ctx, before it enters the text encoder (minhanh151/PRE,
`trainers/pre.py` PromptEncoder).

- `lstm` (PRE's base → new runs, `scripts/base2new_train.sh`: ENCODER=LSTM1): one
  bidirectional LSTM layer of hidden size d/2 over the context sequence, so its output is d
  wide (the official module's names: `lstm_head.weight_ih_l0`, …); `lstm2`: two layers.
- `mlp` (the official default, MLP1): Linear(d, 64) → ReLU → Linear(64, d) (+ LayerNorm with
  `layer_norm`); `mlp2`: that block applied twice (the official `layers + layers`: the same
  layers, so shared weights).
- `transformer`: two encoder layers, two heads, sinusoidal positions added first.
- `none`: plain CoOp.

Official facts kept: the LSTM sees the context as one unbatched sequence (n_ctx, d); its
dropout of 0.05 acts only between layers (none for one layer). Not copied: with the official
default SEPARATE=True each context token gets its own network, kept in a plain dict that the
optimiser never sees (those networks stay at their random initialisation); here one shared,
trained network, as in the base → new runs.
"""

from __future__ import annotations

import torch
from torch import nn

from headstart.exceptions import DataError

PROMPT_ENCODERS = ("none", "lstm", "lstm2", "mlp", "mlp2", "transformer")


class PromptEncoder(nn.Module):
    """ctx (n_ctx, d) → f(ctx) + ctx (or f(ctx) without `residual`)."""

    def __init__(
        self,
        kind: str,
        width: int,
        bottleneck: int = 64,
        layer_norm: bool = False,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if kind not in PROMPT_ENCODERS:
            raise DataError(f"prompt encoder {kind!r}: choose one of {', '.join(PROMPT_ENCODERS)}")
        self.kind, self.residual = kind, residual
        if kind in ("lstm", "lstm2"):
            self.lstm_head = nn.LSTM(
                input_size=width,
                hidden_size=width // 2,
                num_layers=1 if kind == "lstm" else 2,
                dropout=0.05 if kind == "lstm2" else 0.0,
                bidirectional=True,
                batch_first=True,
            )
        elif kind in ("mlp", "mlp2"):
            block = [nn.Linear(width, bottleneck), nn.ReLU(), nn.Linear(bottleneck, width)]
            if layer_norm:
                block.append(nn.LayerNorm(width))
            layers = block if kind == "mlp" else [*block, *block]  # official: the same layers twice
            self.module = nn.Sequential(*layers)
        elif kind == "transformer":
            layer = nn.TransformerEncoderLayer(d_model=width, nhead=2, dropout=0.05)
            self.module = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return context
        if self.kind in ("lstm", "lstm2"):
            out = self.lstm_head(context)[0]
        elif self.kind == "transformer":
            shaped = context + positions(context.shape[-2], context.shape[-1]).to(context)
            out = self.module(shaped)
        else:
            out = self.module(context)
        return out + context if self.residual else out


def positions(length: int, width: int, base: float = 10000.0) -> torch.Tensor:
    """Sinusoidal position encodings (length, width): sin on even, cos on odd columns."""
    table = torch.zeros(length, width)
    steps = torch.arange(length, dtype=torch.float64).unsqueeze(1)
    rates = base ** (torch.arange(0, width, 2, dtype=torch.float64) / width)
    table[:, 0::2] = torch.sin(steps / rates).float()
    table[:, 1::2] = torch.cos(steps / rates[: width // 2]).float()
    return table
