"""What a fitted model looks at: input attributions of head ∘ encoder for images, saved as
heat maps (`headstart explain MODEL IMAGES -o DIR`)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headstart.attributions import attribute, differentiable_model, heat_map, saliency
from headstart.attributions.differentiable import prepared_pixels
from headstart.attributions.methods import ATTRIBUTIONS
from headstart.cards import EncoderCard
from headstart.datasets import ItemError
from headstart.datasets.image_folder import list_image_files
from headstart.encoders import create_encoder
from headstart.exceptions import DataError
from headstart.output import check_outputs
from headstart.persistence import load_model
from headstart.workflow.models import read_provenance

DEFAULT_METHODS = ("gradient", "input-x-gradient", "integrated-gradients", "smoothgrad")


def _images(inputs: Sequence[str | Path]) -> list[Path]:
    files: list[Path] = []
    for entry in map(Path, inputs):
        if entry.is_dir():
            files += list_image_files(entry)
        elif entry.is_file():
            files.append(entry)
        else:
            raise DataError(f"{entry} does not exist (give image files or folders of images)")
    if not files:
        raise DataError(f"no image files in {', '.join(map(str, inputs))}")
    return files


def _model_encoder(model_dir: Path) -> Any:
    provenance = read_provenance(model_dir)
    card = provenance.get("encoder") or {}
    if card.get("modality") != "image":
        raise DataError(
            f"attributions are computed on images; model {model_dir} was fitted on "
            f"{card.get('modality') or 'unknown'} features ({card.get('name')!r})"
        )
    recipe = provenance.get("recipe") or {}
    if not recipe.get("name"):
        raise DataError(
            f"model {model_dir} was fitted on a store of imported vectors (no encoder recipe): "
            "attributions need the encoder that turns images into its features"
        )
    encoder = create_encoder(recipe["name"], **recipe.get("options", {}))
    if encoder.card.digest() != EncoderCard.from_dict(card).digest():
        raise DataError(
            f"encoder {recipe['name']!r} today has another card than the one model {model_dir} "
            "was fitted on (weights or preprocessing changed): its attributions would explain "
            "another model"
        )
    return encoder, provenance


def explain(
    model: str | Path,
    images: Sequence[str | Path],
    out: str | Path,
    methods: Sequence[str] = DEFAULT_METHODS,
    seed: int = 0,
) -> Path:
    """Attributions of the model's predicted class for each image by each method: heat maps
    (`<image>-<method>.png`: the image as the encoder sees it and the saliency over it), a
    gallery page (`index.html`) and `explanations.json` (prediction, probability, files)."""
    check_outputs(out)
    for method in methods:
        ATTRIBUTIONS.entry(method)  # an unknown method fails before any work
    files = _images(images)  # a missing image fails before the model is loaded
    model_dir = Path(model)
    encoder, provenance = _model_encoder(model_dir)
    fitted = load_model(model_dir)
    network = differentiable_model(encoder, fitted)
    names = provenance["class_names"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records, skipped = [], []
    for path in files:
        try:
            pixels = prepared_pixels(encoder, [path])
        except ItemError as error:
            skipped.append({"image": str(path), "reason": str(error)})
            continue
        scores = network(pixels).detach().numpy()[0]
        target = int(np.argmax(scores))
        proba = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        label = fitted.classes_[target] if hasattr(fitted, "classes_") else target
        image = pixels[0].permute(1, 2, 0).numpy().astype(np.uint8)
        files = {}
        for method in methods:
            maps = saliency(attribute(network, pixels, [target], method, seed))
            name = f"{len(records):04d}-{path.stem}-{method}.png"
            heat_map(image, maps[0]).save(out / name)
            files[method] = name
        records.append(
            {
                "image": str(path),
                "predicted": names[int(label)] if names else str(label),
                "probability": float(proba[target]),
                "maps": files,
            }
        )
    if not records:
        raise DataError(f"none of the images could be read: {skipped[:3]}")
    summary = {"model": str(model_dir), "methods": list(methods), "images": records}
    (out / "explanations.json").write_text(json.dumps({**summary, "skipped": skipped}, indent=1))
    (out / "index.html").write_text(_gallery(records, list(methods)), encoding="utf-8")
    return out


def _gallery(records: list[dict[str, Any]], methods: list[str]) -> str:
    head = "".join(f"<th>{html.escape(m)}</th>" for m in methods)
    rows = []
    for r in records:
        cells = "".join(
            f'<td><img src="{html.escape(r["maps"][m])}" alt="{html.escape(m)}"></td>'
            for m in methods
        )
        name, predicted = html.escape(Path(r["image"]).name), html.escape(r["predicted"])
        caption = f"{name}<br>{predicted} ({r['probability']:.2f})"
        rows.append(f"<tr><td>{caption}</td>{cells}</tr>")
    return (
        "<!doctype html><meta charset='utf-8'><title>headstart explain</title>"
        "<style>body{font-family:sans-serif}img{width:224px;image-rendering:pixelated}</style>"
        "<h1>What the model looks at</h1><p>Each cell: the image as the encoder sees it, and "
        "the magnitude of the attribution of the predicted class over it.</p>"
        f"<table><tr><th>image</th>{head}</tr>{''.join(rows)}</table>"
    )
