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
from headstart.embedding import embed_dataset, store_key
from headstart.encoders import Encoder
from headstart.exceptions import DataError, StoreError
from headstart.json_files import write_sealed_json
from headstart.mil.bag_store import BAGS_FILE, FORMAT, patch_coords
from headstart.slides.h5_files import write_coords_h5, write_h5
from headstart.slides.patch_item import SlidePatch
from headstart.slides.patching import PatchGrid, PatchSpec, patch_grid
from headstart.slides.reader import SLIDE_SUFFIXES, Slide, slide_id
from headstart.slides.tissue import TissuePreset, segment_tissue, segmentation_downsample
from headstart.store import Manifest, Store

STORES, H5_DIR, PATCHES_DIR, TISSUE_DIR = "stores", "h5_files", "patches", "tissue"


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


@dataclass(frozen=True)
class SlideJob:
    """One slide of a run: its file, a given mpp (filling in, or with `override` replacing,
    the metadata's) and its record from an earlier run of the same bag store."""

    path: Path
    mpp: float | None = None
    override: bool = False
    earlier: dict[str, Any] | None = None

    def run(self, encoder: Encoder, out: Path, recipe: SlideRecipe, progress: bool, **options: Any):
        """This slide's record (see `embed_slide`)."""
        return embed_slide(
            self.path,
            encoder,
            out,
            recipe,
            self.mpp,
            progress,
            self.earlier,
            self.override,
            **options,
        )


def find_slides(folder: str | Path) -> list[Path]:
    """The slide files of `folder` (by suffix, sorted); other files are not slides, nor are
    macOS's `._` resource files."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise DataError(f"slide folder {folder} does not exist")
    found = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SLIDE_SUFFIXES and not p.name.startswith("._")
    )
    if not found:
        raise DataError(f"{folder} holds no slide files (looked for {', '.join(SLIDE_SUFFIXES)})")
    ids = [slide_id(p) for p in found]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise DataError(f"{folder}: two slide files share the id {twice[0]!r} (file name stem)")
    return found


def slide_digest(path: Path) -> str:
    """sha256 of the slide's bytes (and, for MIRAX, of its companion folder's files)."""
    digest = hashlib.sha256()
    files = [path]
    companion = path.with_suffix("")
    if path.suffix.lower() == ".mrxs" and companion.is_dir():
        files += sorted(p for p in companion.rglob("*") if p.is_file())
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def embed_slide(
    path: str | Path,
    encoder: Encoder,
    out: str | Path,
    recipe: SlideRecipe,
    mpp: float | None = None,
    progress: bool = False,
    earlier: dict[str, Any] | None = None,
    override: bool = False,
    **embed_options: Any,
) -> dict[str, Any]:
    """Embed one slide into the bag store at `out`; returns its record: done, or skipped
    with the reason (an unusable slide, or any error while embedding it: the other slides go
    on). `earlier` is its record from a previous run: an unchanged file (path, size, mtime)
    keeps its digest, and a finished one is not read again. `mpp` fills in a slide without
    a resolution, or with `override` replaces the metadata's."""
    path, out = Path(path), Path(out)
    stat = path.stat()
    record: dict[str, Any] = {
        "id": slide_id(path),
        "path": str(path.resolve()),
        "bytes": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }
    same_file = earlier is not None and all(earlier.get(k) == record[k] for k in record)
    if same_file and earlier.get("status") == "done" and _still_there(out, earlier):
        return earlier
    if same_file and earlier.get("sha256"):
        record["sha256"] = earlier["sha256"]
    try:
        return _embed(path, record, encoder, out, recipe, mpp, override, progress, embed_options)
    except DataError as error:
        return record | {"status": "skipped", "reason": str(error)}
    except Exception as error:  # any other failure of this slide: listed, the run goes on
        return record | {"status": "skipped", "reason": f"{type(error).__name__}: {error}"}


def _still_there(out: Path, record: dict[str, Any]) -> bool:
    return (
        all((out / record[k]).exists() for k in ("store", "h5"))
        and (out / record["store"] / "manifest.json").is_file()
    )


def _embed(
    path: Path,
    record: dict[str, Any],
    encoder: Encoder,
    out: Path,
    recipe: SlideRecipe,
    mpp: float | None,
    override: bool,
    progress: bool,
    embed_options: dict[str, Any],
) -> dict[str, Any]:
    name = record["id"]
    with Slide(path, mpp, recipe.backend, override) as slide:
        record.setdefault("sha256", slide_digest(path))
        grid = _tissue_and_grid(slide, name, out, recipe)
        record |= {
            "slide": slide.describe(),  # after the thumbnail: with its gaps, if any
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
    store = out / STORES / name
    replace = (store / "manifest.json").is_file() and (
        Manifest.read(store).key != store_key(dataset, encoder)
    )  # the slide or its grid changed since: its store is derived data, made again
    result = embed_dataset(
        dataset, encoder, store, progress=progress, overwrite=replace, **embed_options
    )
    if len(result.store) == 0:
        raise DataError(f"none of its {len(grid)} patches could be read (see {store}/failures)")
    _write_h5(out, result.store, record, recipe, encoder)
    return record | {
        "status": "done",
        "patches": len(result.store),
        "unreadable": len(result.store.failures),
        "replaced": bool(replace),
        "store": f"{STORES}/{name}",
        "h5": f"{H5_DIR}/{name}.h5",
        "coords_h5": f"{PATCHES_DIR}/{name}.h5",
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
    out: Path, store: Store, record: dict[str, Any], recipe: SlideRecipe, encoder: Encoder
) -> None:
    """The slide's CLAM/TRIDENT files. The attributes describe what was read: `patch_size`
    pixels at `patch_level` (CLAM's meaning), and magnifications such that TRIDENT's
    patch_size × level0_magnification / target_magnification is the same level-0 side
    (`patch_size_level0`); both then read the region headstart embedded. Our patch recipe
    (output size and µm/px) is kept beside them. `patches/<slide>.h5` holds the coordinates
    alone, as CLAM's create_patches_fp.py writes them, for its own feature extraction."""
    name, slide, patch = record["id"], record["slide"], recipe.patch
    downsample = slide["level_downsamples"][record["level"]]
    level_dim = slide["level_dimensions"][record["level"]]
    level0_magnification = round(10.0 / slide["mpp"], 4)  # TRIDENT's convention: 10 µm / mpp
    read, stride = record["read_size"], patch.stride or patch.size
    clam = {
        "patch_size": read,
        "patch_level": record["level"],
        "downsample": [downsample, downsample],
        "downsampled_level_dim": level_dim,
        "level_dim": level_dim,
        "name": name,
    }
    trident = {
        "patch_size_level0": record["patch_size_level0"],
        "level0_magnification": level0_magnification,
        "target_magnification": level0_magnification / downsample,
        "overlap": round((patch.size - stride) * read / patch.size),
        "level0_width": slide["dimensions"][0],
        "level0_height": slide["dimensions"][1],
    }
    ours = {"mpp": slide["mpp"], "target_mpp": patch.mpp, "output_size": patch.size}
    features_attrs = {"name": name, "encoder": encoder.name}
    attrs = clam | trident | ours
    chunks = ((vectors, patch_coords(ids)) for ids, vectors in store.blocks())
    write_h5(out / H5_DIR / f"{name}.h5", chunks, store.dim, attrs, features_attrs)
    coords = patch_coords(store.ids)
    write_coords_h5(out / PATCHES_DIR / f"{name}.h5", coords, clam | {"save_path": PATCHES_DIR})


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
