"""Prompt ranking on a store's train/test split (the registered protocols run through
`workflow.run`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from headstart.heads import create_head
from headstart.prompts import (
    class_embeddings,
)
from headstart.protocol.pac_bayes import rank_prompts
from headstart.store import Store
from headstart.workflow.splits import (
    train_test,
)
from headstart.workflow.texts import (
    store_encoder,
)


def rank_templates(
    store: Store,
    templates: Sequence[str],
    names: Sequence[str] | None = None,
    delta: float = 0.05,
) -> list[dict[str, Any]]:
    """Prompt templates ranked by their PAC-Bayes bound (uniform prior over `templates`),
    computed from the training rows only; each row also reports the test error, which takes no
    part in the ranking."""
    X_train, y_train, X_test, y_test, _ = train_test(store)
    encoder = store_encoder(store)
    names = list(names or store.class_names)
    train_errors, test_errors = {}, {}
    for template in templates:
        texts = class_embeddings(encoder, names, (template,))
        head = create_head("zero-shot", class_embeddings=texts).fit(texts, np.arange(len(names)))
        train_errors[template] = float(np.mean(head.predict(X_train) != y_train))
        test_errors[template] = float(np.mean(head.predict(X_test) != y_test))
    ranked = rank_prompts(train_errors, m=len(y_train), delta=delta)
    return [
        {
            "template": r.prompt,
            "train_error": r.train_error,
            "kl": r.kl,
            "bound": r.bound,
            "test_error": test_errors[r.prompt],
        }
        for r in ranked
    ]
