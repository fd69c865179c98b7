"""A fitted attention MIL model's patch scores back on the slides of a bag store: per slide a
heat map PNG (with colour bar), GeoJSON and CSV of the patches' attention for QuPath, and a
gallery of the top-k and bottom-k patches; `heatmaps.json` lists them with the model's
prediction for the slide (the report's slide section reads it).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from headstart.exceptions import DataError
from headstart.mil import Bags, MILClassifier
from headstart.mil.bag_store import read_bag_record, slide_patches
from headstart.output import check_outputs
from headstart.slides.heatmap import gallery, paint_heatmap, patches_geojson, rank_of, score_raster
from headstart.slides.reader import Slide, slide_id
from headstart.workflow.slides import slide_digest

INDEX = "heatmaps.json"


def slide_heatmaps(
    model_dir: str | Path,
    bags: str | Path,
    out: str | Path,
    slides: Sequence[str] | None = None,
    top: int = 8,
    slides_dir: str | Path | None = None,
    thumbnail_side: int = 2048,
) -> dict[str, Any]:
    """Heat maps of `model_dir`'s attention on the embedded slides of bag store `bags` (all,
    or the ids in `slides`); slide files are looked for where they were embedded, or in
    `slides_dir` when they moved (their digest must match)."""
    check_outputs(out)
    if top < 1 or thumbnail_side < 64:
        raise DataError(f"top must be ≥ 1 and thumbnail_side ≥ 64 (got {top}, {thumbnail_side})")
    model = MILClassifier.load(model_dir)
    if not model.model_.pool.attention:
        raise DataError(
            f"model {model_dir} pools with {model.aggregator!r}, which has no attention; heat "
            "maps need an attention aggregator (attention, gated, acmil, ...)"
        )
    record = read_bag_record(bags)
    done = {s["id"]: s for s in record["slides"] if s["status"] == "done"}
    wanted = [slide_id(s) for s in slides] if slides else list(done)
    unknown = [s for s in wanted if s not in done]
    if unknown:
        raise DataError(
            f"slide(s) {unknown[:5]} are not embedded in {bags} (embedded: {sorted(done)[:8]})"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shown = []
    for name in wanted:
        shown.append(
            _one_slide(model, Path(bags), done[name], out, top, slides_dir, thumbnail_side)
        )
    summary = {
        "model": str(model_dir),
        "aggregator": model.aggregator,
        "bags": str(bags),
        "encoder": record["encoder"].get("name"),
        "class_names": list(model.class_names_),
        "slides": shown,
    }
    (out / INDEX).write_text(json.dumps(summary, indent=1))
    return summary


def _one_slide(
    model: MILClassifier,
    bags: Path,
    slide: dict[str, Any],
    out: Path,
    top: int,
    slides_dir: str | Path | None,
    thumbnail_side: int,
) -> dict[str, Any]:
    vectors, coords = slide_patches(bags, slide)
    if vectors.shape[1] != model.n_features_in_:
        raise DataError(
            f"model was fitted on {model.n_features_in_}-d vectors; bag store {bags} holds "
            f"{vectors.shape[1]}-d ones (another encoder)"
        )
    bag = Bags(vectors, [0, len(vectors)], [-1], [slide["id"]], coords=coords)
    scores = model.instance_scores(bag)[0]
    proba = model.predict_proba(bag)[0]
    predicted = model.class_names_[int(proba.argmax())]
    path = _slide_file(slide, slides_dir)
    size0, name = int(slide["patch_size_level0"]), slide["id"]
    with Slide(path, slide["slide"]["mpp"], slide["slide"]["backend"]) as reader:
        downsample = max(reader.dimensions) / thumbnail_side
        thumbnail = reader.thumbnail(max(1.0, downsample))
        raster = score_raster(thumbnail.shape[:2], max(1.0, downsample), coords, size0, scores)
        title = f"{name}: predicted {predicted} ({proba.max():.2f}); {len(scores)} patches"
        files = {"heatmap": f"{name}_heatmap.png", "gallery": f"{name}_gallery.png"}
        Image.fromarray(paint_heatmap(thumbnail, raster, title)).save(out / files["heatmap"])
        size = int(slide["read_size"])

        def read(x: int, y: int) -> np.ndarray:
            return reader.read(x, y, int(slide["level"]), size, size)

        Image.fromarray(gallery(read, coords, scores, top)).save(out / files["gallery"])
    files |= {"geojson": f"{name}_attention.geojson", "csv": f"{name}_attention.csv"}
    (out / files["geojson"]).write_text(json.dumps(patches_geojson(coords, size0, scores)))
    with open(out / files["csv"], "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["slide_id", "x", "y", "size_level0", "attention", "rank"])
        for (x, y), score, rank in zip(
            coords.tolist(), scores.tolist(), rank_of(scores), strict=True
        ):
            writer.writerow([name, x, y, size0, f"{score:.6g}", rank])
    return {
        "id": name,
        "predicted": str(predicted),
        "probability": round(float(proba.max()), 4),
        "patches": len(scores),
        **files,
    }


def _slide_file(slide: dict[str, Any], slides_dir: str | Path | None) -> Path:
    """The slide's file where it was embedded, or by name in `slides_dir` (same content)."""
    path = Path(slide["path"])
    if slides_dir is not None:
        path = Path(slides_dir) / path.name
    if not path.is_file():
        raise DataError(
            f"slide {slide['id']}: {path} does not exist; give the folder it moved to "
            "(--slides-dir)"
        )
    if slides_dir is not None and slide_digest(path) != slide["sha256"]:
        raise DataError(f"slide {slide['id']}: {path} is not the file that was embedded (sha256)")
    return path
