"""Prompts learned through a frozen text encoder (CoOp and the methods built on it): the
differentiable text side first; the heads and the base → new protocol build on it."""

from headstart.prompt_learning.coop import CoOp
from headstart.prompt_learning.prompt_encoders import PROMPT_ENCODERS, PromptEncoder
from headstart.prompt_learning.text_side import PromptTextEncoder

__all__ = ["PROMPT_ENCODERS", "CoOp", "PromptEncoder", "PromptTextEncoder"]
