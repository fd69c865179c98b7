"""A differentiable text side: a frozen sentence-transformers BERT (the bundled MiniLM) whose
token-embedding sequence carries learned context vectors, CoOp's "X X X X {class}." — the
class name's own word pieces and the full stop after the context — so that gradients reach
the context and nothing else.

Each class's sequence is [CLS] ctx_1 … ctx_M <class word pieces> . [SEP]: its word pieces,
the mask and the pooling are fixed at construction (cached), and one forward pass embeds all
classes at once. The output is what sentence-transformers' own pipeline would give for that
sequence (BERT with position and token-type embeddings added to the inputs, mean pooling over
the mask, L2 normalisation for all-MiniLM-L6-v2): with the context equal to the word
embeddings of "a photo of a", it equals `model.encode("a photo of a {class}.")`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from headstart.exceptions import DataError


class PromptTextEncoder(nn.Module):
    """Class prompts with `n_ctx` learned context slots through a frozen sentence model.

    `model`: a SentenceTransformer (Transformer → Pooling(mean) → optional Normalize), whose
    parameters are frozen here. `forward(context)` takes (M, d) shared or (K, M, d)
    class-specific context vectors in the word-embedding space and returns (K, out) class
    embeddings."""

    def __init__(
        self, model: Any, class_names: Sequence[str], n_ctx: int, suffix: str = "."
    ) -> None:
        super().__init__()
        if n_ctx < 1:
            raise DataError(f"context length {n_ctx}: learned prompts need at least 1 slot")
        blank = [i for i, name in enumerate(class_names) if not str(name).strip()]
        if blank:
            raise DataError(f"class {blank[0]} has no name: a prompt needs the class's words")
        transformer = model[0]
        modules = [type(m).__name__ for m in model]
        pooling = model[1].get_config_dict().get("pooling_mode") if len(modules) > 1 else None
        mean = pooling == "mean" or model[1].get_config_dict().get("pooling_mode_mean_tokens")
        if modules[:2] != ["Transformer", "Pooling"] or not mean:
            raise DataError(
                f"learned prompts need a mean-pooled sentence model; this one is {modules}"
            )
        self.bert = transformer.auto_model
        for parameter in self.bert.parameters():
            parameter.requires_grad_(False)
        self.bert.eval()
        self.normalise = "Normalize" in modules
        self.n_ctx = n_ctx
        tokenizer = transformer.tokenizer
        limit = int(transformer.max_seq_length)
        sequences = []
        for name in class_names:
            words = tokenizer(f"{name}{suffix}", add_special_tokens=False)["input_ids"]
            ids = [tokenizer.cls_token_id, *([tokenizer.pad_token_id] * n_ctx), *words]
            sequences.append([*ids[: limit - 1], tokenizer.sep_token_id])
        length = max(len(s) for s in sequences)
        pad = tokenizer.pad_token_id
        ids = torch.tensor([s + [pad] * (length - len(s)) for s in sequences])
        mask = torch.tensor([[1] * len(s) + [0] * (length - len(s)) for s in sequences])
        self.register_buffer("input_ids", ids, persistent=False)
        self.register_buffer("attention_mask", mask, persistent=False)
        with torch.no_grad():  # the fixed word embeddings: class words, specials, padding
            self.register_buffer(
                "token_embeddings", self.word_embeddings(ids).detach(), persistent=False
            )

    def train(self, mode: bool = True) -> PromptTextEncoder:
        """The frozen encoder stays in evaluation mode (no dropout) whatever its owner does."""
        super().train(mode)
        self.bert.eval()
        return self

    @property
    def width(self) -> int:
        """The word-embedding width (the context vectors' size)."""
        return int(self.bert.embeddings.word_embeddings.embedding_dim)

    def word_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        return self.bert.embeddings.word_embeddings(ids)

    def embed_words(self, tokenizer: Any, text: str) -> torch.Tensor:
        """The word embeddings of `text`'s word pieces (CoOp's initialisation from words)."""
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            return self.word_embeddings(torch.tensor(ids)).detach().clone()

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        classes = self.input_ids.shape[0]
        if context.dim() == 2:
            context = context.unsqueeze(0).expand(classes, -1, -1)
        if context.shape[1:] != (self.n_ctx, self.width) or context.shape[0] != classes:
            raise DataError(
                f"context of shape {tuple(context.shape)}; expected ({self.n_ctx}, "
                f"{self.width}) or ({classes}, {self.n_ctx}, {self.width})"
            )
        embeddings = torch.cat(
            [
                self.token_embeddings[:, :1],
                context.to(self.token_embeddings.dtype),
                self.token_embeddings[:, 1 + self.n_ctx :],
            ],
            dim=1,
        )
        hidden = self.bert(inputs_embeds=embeddings, attention_mask=self.attention_mask)
        states = hidden.last_hidden_state
        mask = self.attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        return nn.functional.normalize(pooled, dim=-1) if self.normalise else pooled
