"""`CoOp` (Zhou et al., IJCV 2022; KaiyangZhou/CoOp): the prompt's context words are learned
through the frozen text encoder from a few labelled items, and items are classified by cosine
to the class prompts, as zero-shot does with a hand-written prompt. `PRE` (minhanh151/PRE) is
CoOp whose context first passes through a prompt encoder with a residual (`prompt_encoders`).

As the official trainer: context of `n_ctx` vectors, from N(0, 0.02) or from the words of
`ctx_init` (then `n_ctx` is their number); shared, or one per class (`class_specific`, CSC);
the class name's words and a full stop after it; SGD (lr 0.002, momentum 0.9, weight decay
5e-4), one warm-up epoch at 1e-5, then cosine annealing; batches of 32; epochs by shots as
the CoOp scripts (50 at 1 shot, 100 at 2–4, 200 from 8), unless given; cross-entropy over the
classes seen in training, logits = cos / temperature (0.01: CLIP's logit scale of 100).
Variants: the text encoder is the bundled MiniLM (mean-pooled BERT), not CLIP's; its items
are MiniLM vectors (text stores, or images in the ConSE space).

`class_scores(X, names)` scores items against any class names with the learned (shared)
context — how base → new evaluates the classes training never saw.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from headstart.encoders import create_encoder
from headstart.exceptions import DataError
from headstart.heads.base import Head
from headstart.heads.prompt_schedule import epochs_for_shots, fit_class_vectors
from headstart.heads.tags import HeadTags
from headstart.prompt_learning.prompt_encoders import PromptEncoder
from headstart.prompt_learning.text_side import PromptTextEncoder


class CoOp(Head):
    """CoOp: the prompt's context learned through the frozen text encoder (Zhou et al. 2022)."""

    def __headstart_tags__(self) -> HeadTags:
        return replace(super().__headstart_tags__(), family="prompt", text_conditioned=True)

    def __init__(
        self,
        class_names: list[str] | None = None,
        text_encoder: str = "minilm",
        n_ctx: int = 16,
        ctx_init: str = "",
        class_specific: bool = False,
        prompt_encoder: str = "none",
        epochs: int | None = None,
        lr: float = 0.002,
        batch_size: int = 32,
        temperature: float = 0.01,
        random_state: int = 0,
    ) -> None:
        self.class_names = class_names
        self.text_encoder = text_encoder
        self.n_ctx = n_ctx
        self.ctx_init = ctx_init
        self.class_specific = class_specific
        self.prompt_encoder = prompt_encoder
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.temperature = temperature
        self.random_state = random_state

    # --- fitting ---------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        names = self._names_of(self.classes_)
        encoder = create_encoder(self.text_encoder)
        if X.shape[1] != encoder.card.output_dim:
            raise DataError(
                f"{type(self).__name__} learns prompts in {self.text_encoder}'s space "
                f"({encoder.card.output_dim}-d); these items are {X.shape[1]}-d"
            )
        if self.batch_size < 1 or self.lr <= 0 or self.temperature <= 0:
            raise DataError("batch_size, lr and temperature must be positive")
        torch.manual_seed(self.random_state)
        tokenizer = encoder.model[0].tokenizer
        n_ctx = len(tokenizer(self.ctx_init, add_special_tokens=False)["input_ids"])
        n_ctx = n_ctx if self.ctx_init.strip() else self.n_ctx
        self._model = encoder.model
        text = PromptTextEncoder(encoder.model, names, n_ctx)
        if self.ctx_init.strip():
            start = text.embed_words(tokenizer, self.ctx_init)
            if self.class_specific:
                start = start.unsqueeze(0).repeat(len(names), 1, 1)
        else:
            shape = (len(names), n_ctx, text.width) if self.class_specific else (n_ctx, text.width)
            start = torch.empty(shape).normal_(std=0.02)
        context = nn.Parameter(start)
        network = PromptEncoder(self.prompt_encoder, text.width)
        shots = int(np.bincount(y).min())
        epochs = self.epochs or epochs_for_shots(shots)
        self._train(text, context, network, X, y, epochs)
        with torch.no_grad():
            self.context_ = network(context).detach().numpy().astype(np.float32)
            self.class_text_ = text(torch.from_numpy(self.context_)).numpy()
        self.epochs_ = epochs
        self.text_card_ = encoder.card.to_dict()

    def _train(
        self,
        text: PromptTextEncoder,
        context: nn.Parameter,
        network: PromptEncoder,
        X: np.ndarray,
        y: np.ndarray,
        epochs: int,
    ) -> None:
        """SGD over the context (and the prompt encoder), dassl's warm-up + cosine schedule."""
        text.train()
        network.train()
        fit_class_vectors(
            [context, *network.parameters()],
            lambda: text(network(context)),
            X,
            y,
            epochs,
            self.lr,
            self.batch_size,
            self.temperature,
            self.random_state,
        )
        network.eval()

    # --- scoring -----------------------------------------------------------------------------
    def _scores(self, X: np.ndarray) -> np.ndarray:
        items = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        return (items @ self.class_text_.T.astype(X.dtype)).astype(np.float64) / self.temperature

    def class_scores(self, X: np.ndarray, names: list[str]) -> np.ndarray:
        """Logits of items `X` against class `names` (any classes) with the learned context."""
        if self.class_specific:
            raise DataError("class-specific context (CSC) exists only for the classes it learned")
        model = getattr(self, "_model", None) or create_encoder(self.text_encoder).model
        text = PromptTextEncoder(model, names, self.context_.shape[-2])
        with torch.no_grad():
            table = text(torch.from_numpy(self.context_)).numpy()
        X = np.asarray(X, dtype=np.float32)
        items = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        return (items @ table.T).astype(np.float64) / self.temperature

    def _names_of(self, classes: np.ndarray) -> list[str]:
        """The class names of labels `classes` (integer indices into `class_names`)."""
        if not self.class_names:
            raise DataError(
                f"{type(self).__name__} learns a prompt around each class's name: give "
                "class_names (one per class, in label order)"
            )
        if not np.issubdtype(np.asarray(classes).dtype, np.integer) or classes.min() < 0:
            raise DataError("labels must be integer indices into class_names")
        if classes.max() >= len(self.class_names):
            raise DataError(
                f"label {classes.max()} has no name: class_names has {len(self.class_names)}"
            )
        names = [str(self.class_names[c]) for c in classes]
        blank = [int(c) for c, n in zip(classes, names, strict=True) if not n.strip()]
        if blank:
            raise DataError(f"class {blank[0]} has no name: a prompt needs the class's words")
        return names


class PRE(CoOp):
    """PRE: CoOp's context through a residual BiLSTM prompt encoder (Pham Thi Minh et al. 2023)."""

    def __init__(
        self,
        class_names: list[str] | None = None,
        text_encoder: str = "minilm",
        n_ctx: int = 4,
        ctx_init: str = "a photo of a",
        class_specific: bool = False,
        prompt_encoder: str = "lstm",
        epochs: int | None = None,
        lr: float = 0.002,
        batch_size: int = 32,
        temperature: float = 0.01,
        random_state: int = 0,
    ) -> None:
        super().__init__(
            class_names,
            text_encoder,
            n_ctx,
            ctx_init,
            class_specific,
            prompt_encoder,
            epochs,
            lr,
            batch_size,
            temperature,
            random_state,
        )
