"""Class texts → class embeddings for zero-shot heads: prompt templates and descriptions.

A class embedding is built in the encoder's own joint space. With templates (CLIP's prompt
ensembling), it is the renormalised mean of the normalised embeddings of every template
filled with the class name. With descriptions (Menon & Vondrick, ICLR 2023), it is the plain
mean of the normalised descriptor embeddings, so that its dot product with a normalised image
is the mean cosine over descriptors, the paper's score.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from headstart.exceptions import DataError
from headstart.heads.prototype import l2_normalize

DEFAULT_TEMPLATES = ("a photo of a {}.",)


@dataclass
class ClassTexts:
    """Where zero-shot heads get their class embeddings: class `names` (default: the store's)
    in prompt `templates`, or a JSON file of per-class `descriptions` (descriptors); FuDD also
    reads a JSON file of pairwise `differential` descriptions."""

    names: Sequence[str] | None = None
    templates: Sequence[str] | None = None  # None: the encoder's own default
    descriptions: str | Path | None = None
    differential: str | Path | None = None

    @classmethod
    def parse(
        cls,
        names: str | None = None,
        templates: str | None = None,
        descriptions: str | Path | None = None,
        differential: str | Path | None = None,
    ) -> ClassTexts:
        """From command-line strings: files (one entry per line) or inline lists (names
        comma-separated, templates separated by '|')."""
        chosen = _lines_or_list(templates, "|")
        return cls(
            names=_lines_or_list(names, ","),
            templates=tuple(chosen) if chosen else None,
            descriptions=descriptions,
            differential=differential,
        )


def _lines_or_list(value: str | None, separator: str) -> list[str] | None:
    """A file's non-empty lines, or `value` split on `separator`."""
    if not value:
        return None
    path = Path(value)
    if path.is_file():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return [part.strip() for part in value.split(separator) if part.strip()]


class TextEmbedder(Protocol):
    """An encoder that can embed free text into its own space (`encode_text`)."""

    def encode_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


def text_encoder_of(encoder: Any) -> TextEmbedder:
    """The encoder itself if it embeds texts, or a clear error naming it."""
    if not hasattr(encoder, "encode_text"):
        raise DataError(
            f"encoder {encoder.name!r} has no text side: zero-shot heads need a joint "
            "image-text space (clip, open_clip, conse) or a text encoder (minilm, st:...)"
        )
    return encoder


def default_templates(encoder: Any) -> tuple[str, ...]:
    """The encoder's own prompt format (`default_templates`), else CLIP's "a photo of a {}."
    A text encoder or ConSE, whose image side mixes bare class names, matches bare names."""
    return tuple(getattr(encoder, "default_templates", DEFAULT_TEMPLATES))


def class_embeddings(
    encoder: Any, class_names: Sequence[str], templates: Sequence[str] | None = None
) -> np.ndarray:
    """(K, d) prompt-ensemble embeddings: mean over templates (default: the encoder's),
    normalised."""
    templates = default_templates(encoder) if templates is None else templates
    if not templates or any("{}" not in t for t in templates):
        raise DataError(f"every template needs a '{{}}' for the class name, got {list(templates)}")
    texts = [t.format(name) for name in class_names for t in templates]
    vectors = l2_normalize(text_encoder_of(encoder).encode_text(texts))
    return l2_normalize(vectors.reshape(len(class_names), len(templates), -1).mean(axis=1))


def read_descriptions(path: str | Path) -> dict[str, list[str]]:
    """A JSON object {class name: [descriptor, ...]}, checked."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"cannot read descriptions {source}: {error}") from error
    if not isinstance(data, dict):
        raise DataError(f"{source}: expected a JSON object of class name → list of descriptors")
    for name, descriptors in data.items():
        if not isinstance(descriptors, list) or not all(isinstance(d, str) for d in descriptors):
            raise DataError(f"{source}: class {name!r} must map to a list of strings")
    return data


def descriptor_sentence(name: str, descriptor: str) -> str:
    """Menon & Vondrick's prompt "{class}, which is/has {descriptor}", their rule as written:
    a descriptor starting with the letter "a" (or "used") takes "which is", one starting
    with has/often/typically/may/can takes "which", any other "which has"."""
    if descriptor.startswith(("a", "used")):
        return f"{name}, which is {descriptor}"
    if descriptor.startswith(("has", "often", "typically", "may", "can")):
        return f"{name}, which {descriptor}"
    return f"{name}, which has {descriptor}"


def description_embeddings(
    encoder: Any,
    class_names: Sequence[str],
    descriptions: Mapping[str, Sequence[str]],
    pattern: str | None = None,
) -> np.ndarray:
    """(K, d) mean normalised embedding of each class's descriptor sentences: Menon &
    Vondrick's `descriptor_sentence`, or `pattern` with {name} and {descriptor} when given.

    A class without descriptors falls back to its bare name (one descriptor: the name).
    """
    missing = [c for c in class_names if not descriptions.get(c)]
    texts, owner = [], []
    for k, name in enumerate(class_names):
        for descriptor in descriptions.get(name) or []:
            texts.append(
                descriptor_sentence(name, descriptor)
                if pattern is None
                else pattern.format(name=name, descriptor=descriptor)
            )
            owner.append(k)
        if name in missing:
            texts.append(name)
            owner.append(k)
    vectors = l2_normalize(text_encoder_of(encoder).encode_text(texts))
    owner_index = np.asarray(owner)
    return np.stack([vectors[owner_index == k].mean(axis=0) for k in range(len(class_names))])


def read_differential_descriptions(path: str | Path) -> dict[str, dict[str, list[str]]]:
    """JSON {class i: {class j: [what an i has that a j has not, ...]}}, checked."""
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"cannot read differential descriptions {source}: {error}") from error
    ok = isinstance(data, dict) and all(
        isinstance(row, dict)
        and all(isinstance(v, list) and all(isinstance(d, str) for d in v) for v in row.values())
        for row in data.values()
    )
    if not ok:
        raise DataError(f"{source}: expected {{class: {{other class: [descriptions]}}}}")
    return data


def differential_embeddings(
    encoder: Any, class_names: Sequence[str], pairs: Mapping[str, Mapping[str, Sequence[str]]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs of the `fudd` head: normalised embeddings of each class's distinct
    descriptions (M, d), the class owning each (M,), and the classes each was written
    against (M, K) — a description repeated for several pairs is embedded once."""
    index = {name: k for k, name in enumerate(class_names)}
    against: dict[tuple[int, str], set[int]] = {}
    for first, row in pairs.items():
        for second, descriptions in row.items():
            if first in index and second in index and first != second:
                for text in descriptions:
                    against.setdefault((index[first], text), set()).add(index[second])
    if not against:
        raise DataError("no differential description names two of the classes")
    keys = list(against)
    vectors = l2_normalize(text_encoder_of(encoder).encode_text([text for _, text in keys]))
    incidence = np.zeros((len(keys), len(class_names)))
    for row, key in enumerate(keys):
        incidence[row, sorted(against[key])] = 1.0
    return vectors, np.array([owner for owner, _ in keys], np.int64), incidence


DescriptionGenerator = Callable[[str], Sequence[str]]
CACHE_FORMAT = "headstart-descriptions/1"


def generate_descriptions(
    class_names: Sequence[str],
    generator: DescriptionGenerator,
    cache: str | Path,
    version: str,
) -> dict[str, list[str]]:
    """Descriptors per class from a user-supplied `generator` (e.g. an LLM client: class name
    → list of descriptors), cached in a JSON file that records `version`.

    The cache is reused only when its version matches; classes missing from it are generated
    and added, so an interrupted run loses nothing already generated. Each class is written
    as soon as it is generated.
    """
    path = Path(cache)
    stored: dict[str, Any] = {"format": CACHE_FORMAT, "version": version, "descriptions": {}}
    if path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise DataError(f"description cache {path} is not valid JSON: {error}") from error
        if previous.get("format") == CACHE_FORMAT and previous.get("version") == version:
            stored = previous
    for name in class_names:
        if name in stored["descriptions"]:
            continue
        descriptors = generator(name)
        if isinstance(descriptors, str) or not all(isinstance(d, str) for d in descriptors):
            raise DataError(f"the generator must return a list of strings for {name!r}")
        stored["descriptions"][name] = list(descriptors)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(stored, indent=1, ensure_ascii=False), encoding="utf-8")
        temporary.replace(path)
    return {name: stored["descriptions"][name] for name in class_names}
