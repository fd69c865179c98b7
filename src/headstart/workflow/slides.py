"""Slides → bags: each slide's tissue, its patch grid, and the patches' vectors from any
registered encoder, written as a bag store (`mil.bag_store`) with CLAM/TRIDENT `.h5` copies.

A slide is one unit of work: its patches embed through `embed_dataset` into the slide's own
store (batched, prefetched, resumable shard by shard, unreadable tiles skipped and listed), then
its `.h5` is written; the bag store's record is rewritten after every slide. A slide that cannot
be used (not a slide, no resolution, no tissue, coarser than asked) is skipped with its reason,
and the other slides go on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from headstart import __version__
from headstart.datasets import Dataset
from headstart.embedding import embed_dataset
from headstart.encoders import Encoder
from headstart.exceptions import DataError, StoreError
from headstart.json_files import write_sealed_json
from headstart.mil.bag_store import BAGS_FILE, FORMAT, slide_patches
from headstart.slides.h5_files import write_h5
from headstart.slides.patch_item import SlidePatch
from headstart.slides.patching import PatchGrid, PatchSpec, patch_grid
from headstart.slides.reader import SLIDE_SUFFIXES, Slide
from headstart.slides.tissue import TissuePreset, segment_tissue, segmentation_downsample

STORES, H5_DIR, TISSUE_DIR = "stores", "h5_files", "tissue"


@dataclass(frozen=True)
class SlideRecipe:
    """What every slide of one bag store shares: patching, tissue preset, reader."""

    patch: PatchSpec
    tissue: TissuePreset
    backend: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return {
            "patch": self.patch.to_dict(),
            "tissue": self.tissue.to_dict(),
            "backend": self.backend,
        }


def find_slides(folder: str | Path) -> list[Path]:
    """The slide files of `folder` (by suffix, sorted); other files are not slides."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise DataError(f"slide folder {folder} does not exist")
    found = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SLIDE_SUFFIXES
    )
    if not found:
        raise DataError(f"{folder} holds no slide files (looked for {', '.join(SLIDE_SUFFIXES)})")
    ids = [slide_id(p) for p in found]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise DataError(f"{folder}: two slide files share the id {twice[0]!r} (file name stem)")
    return found


def slide_id(path: Path) -> str:
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def embed_slide(
    path: str | Path,
    encoder: Encoder,
    out: str | Path,
    recipe: SlideRecipe,
    mpp: float | None = None,
    progress: bool = False,
    **embed_options: Any,
) -> dict[str, Any]:
    """Embed one slide into the bag store at `out`; returns its record (status done or
    skipped with the reason). Only a problem of the store itself (not of the slide) raises."""
    path, out = Path(path), Path(out)
    name = slide_id(path)
    record: dict[str, Any] = {"id": name, "path": str(path.resolve())}
    try:
        with Slide(path, mpp, recipe.backend) as slide:
            record |= {"slide": slide.describe(), "sha256": file_digest(path)}
            grid = _tissue_and_grid(slide, name, out, recipe)
            record |= {
                "slide": slide.describe(),  # again: with the thumbnail's gaps, if any
                "level": grid.level,
                "read_size": grid.read_size,
                "patch_size_level0": grid.size0,
            }
            if len(grid) == 0:
                raise DataError(
                    f"no patch of {name} has {recipe.patch.min_tissue:.0%} tissue (tissue mask "
                    f"in {TISSUE_DIR}/{name}.png); try another --preset or --min-tissue"
                )
            dataset = _patch_dataset(slide, name, record["sha256"], grid, recipe)
            magnification = slide.magnification
    except DataError as error:
        return record | {"status": "skipped", "reason": str(error)}
    store = out / STORES / name
    result = embed_dataset(dataset, encoder, store, progress=progress, **embed_options)
    vectors, coords = slide_patches(out, {"store": f"{STORES}/{name}"})
    if len(vectors) == 0:
        return record | {
            "status": "skipped",
            "reason": f"none of its {len(grid)} patches could be read (see {store}/failures)",
        }
    _write_h5(out / H5_DIR / f"{name}.h5", vectors, coords, record, recipe, encoder, magnification)
    return record | {
        "status": "done",
        "patches": len(vectors),
        "unreadable": len(result.store.failures),
        "store": f"{STORES}/{name}",
        "h5": f"{H5_DIR}/{name}.h5",
        "tissue": f"{TISSUE_DIR}/{name}.geojson",
    }


def _tissue_and_grid(slide: Slide, name: str, out: Path, recipe: SlideRecipe) -> PatchGrid:
    """Segment the slide, save the mask (GeoJSON, preview PNG) and lay out its patches."""
    downsample = segmentation_downsample(slide.dimensions, recipe.tissue)
    thumbnail = slide.thumbnail(downsample)
    mask = segment_tissue(thumbnail, downsample, recipe.tissue)
    folder = out / TISSUE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.geojson").write_text(json.dumps(mask.to_geojson()))
    Image.fromarray(mask.preview(thumbnail)).save(folder / f"{name}.png")
    if mask.empty:
        raise DataError(
            f"no tissue found on {name} (preset thresholds; see {TISSUE_DIR}/{name}.png)"
        )
    return patch_grid(
        slide.dimensions, slide.mpp, slide.level_downsamples, mask, recipe.patch, name
    )


def _patch_dataset(
    slide: Slide, name: str, digest: str, grid: PatchGrid, recipe: SlideRecipe
) -> Dataset:
    """The slide's patches as a dataset of `SlidePatch` items (ids `x_y`, group = slide)."""
    items = [
        SlidePatch(
            str(slide.path.resolve()),
            slide.backend,
            int(x),
            int(y),
            grid.level,
            grid.read_size,
            recipe.patch.size,
            digest,
        )
        for x, y in grid.coords
    ]
    return Dataset(
        name=name,
        items=items,
        labels=np.zeros(len(items), np.int64),
        class_names=["patch"],
        ids=[f"{x}_{y}" for x, y in grid.coords],
        groups=np.full(len(items), name, dtype=object),
        source=str(slide.path),
        options={"slide": slide.describe(), **recipe.to_dict()},
    )


def _write_h5(
    path: Path,
    vectors: np.ndarray,
    coords: np.ndarray,
    record: dict[str, Any],
    recipe: SlideRecipe,
    encoder: Encoder,
    magnification: float,
) -> None:
    """The slide's CLAM/TRIDENT file: CLAM reads patch_size × custom_downsample pixels at
    patch_level; TRIDENT derives the level-0 side from the two magnifications."""
    slide, patch = record["slide"], recipe.patch
    downsample = slide["level_downsamples"][record["level"]]
    stride = patch.stride or patch.size
    coords_attrs = {
        "patch_size": patch.size,
        "patch_level": record["level"],
        "custom_downsample": record["read_size"] / patch.size,
        "downsample": [downsample, downsample],
        "level_dim": slide["dimensions"],
        "name": record["id"],
        "patch_size_level0": record["patch_size_level0"],
        "level0_magnification": magnification,
        "target_magnification": magnification * slide["mpp"] / patch.mpp,
        "overlap": max(0, patch.size - stride),
        "level0_width": slide["dimensions"][0],
        "level0_height": slide["dimensions"][1],
        "mpp": slide["mpp"],
        "target_mpp": patch.mpp,
    }
    features_attrs = {"name": record["id"], "encoder": encoder.name}
    write_h5(path, vectors, coords, coords_attrs, features_attrs)


def bag_store_record(
    encoder: Encoder, recipe: SlideRecipe, slides: list[dict[str, Any]]
) -> dict[str, Any]:
    """The bag store's `bags.json`: format, encoder card, recipe and every slide's record."""
    return {
        "format": FORMAT,
        "encoder": encoder.card.to_dict(),
        "encoder_digest": encoder.card.digest(),
        "recipe": recipe.to_dict(),
        "versions": {"headstart": __version__},
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "slides": slides,
    }


def check_same_recipe(out: Path, encoder: Encoder, recipe: SlideRecipe) -> None:
    """A bag store holds one encoder and one recipe: a run with others is refused."""
    from headstart.mil.bag_store import is_bag_store, read_bag_record

    if not is_bag_store(out):
        return
    record = read_bag_record(out)
    if record.get("encoder_digest") != encoder.card.digest() or record.get("recipe") != json.loads(
        json.dumps(recipe.to_dict())
    ):
        raise StoreError(
            f"{out} is a bag store of another encoder or patching recipe "
            f"({record['encoder'].get('name')}); choose another folder or --overwrite"
        )


def write_bag_record(out: Path, record: dict[str, Any]) -> None:
    """Write `bags.json` atomically (a temporary file renamed into place)."""
    partial = out / f".{BAGS_FILE}.partial"
    write_sealed_json(partial, record)
    partial.replace(out / BAGS_FILE)
