"""Prompts learned through a frozen text encoder (CoOp and the methods built on it): the
differentiable text side first; the heads and the base → new protocol build on it."""

from headstart.heads.registry import register_head
from headstart.prompt_learning.coop import PRE, CoOp
from headstart.prompt_learning.prompt_encoders import PROMPT_ENCODERS, PromptEncoder
from headstart.prompt_learning.text_side import PromptTextEncoder

register_head(
    "coop",
    CoOp,
    variant="through the bundled MiniLM (mean-pooled BERT), not CLIP's text encoder; items are "
    "MiniLM vectors (text stores, or images in the ConSE space)",
)
register_head(
    "pre",
    PRE,
    variant="CoOp's variant above; one shared, trained prompt encoder (the base-to-new runs' "
    "LSTM1), not the default per-token networks the official optimiser never updates",
)

__all__ = ["PRE", "PROMPT_ENCODERS", "CoOp", "PromptEncoder", "PromptTextEncoder"]
