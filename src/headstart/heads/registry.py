"""The head registry: `create_head(name, **params)` and `list_heads()`."""

from __future__ import annotations

from typing import Any

from headstart.heads.base import Head
from headstart.heads.tags import head_tags
from headstart.registry import Registry

HEADS: Registry[Head] = Registry("head")


def create_head(name: str, **params: Any) -> Head:
    """A fresh, unfitted head by registry name (`gda`, `linear-probe`, ...)."""
    return HEADS.create(name, **params)


def list_heads() -> list[tuple[str, str]]:
    """(name, one-line summary) for every registered head."""
    return [(entry.name, entry.summary) for entry in HEADS]


def needs_class_texts(name: str) -> bool:
    """Whether head `name` is conditioned on class text embeddings (zero-shot family)."""
    return head_tags(HEADS.entry(name)[0].factory()).text_conditioned


def learns_from_groups(name: str) -> bool:
    """Whether head `name` learns from the group of each training row (DFR, reweighting)."""
    return head_tags(HEADS.entry(name)[0].factory()).groups


def register_head(name: str, cls: type[Head], variant: str = "") -> type[Head]:
    """Register head class `cls` under `name`; its docstring's first line is the summary,
    `variant` how it differs from its paper (if it does)."""
    HEADS.register(name, (cls.__doc__ or "").strip().partition("\n")[0], variant=variant)(cls)
    return cls
