"""The slide verbs of headstart: slides → bag store (`embed_slides`), attention heat maps of a
MIL model on it (`slide_heatmaps`), and generated slides to try it on (`make_slides`).
Re-exported by `headstart.api`, which the front ends call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headstart.datasets.csv_rows import read_csv_rows
from headstart.encoders import create_encoder
from headstart.exceptions import DataError
from headstart.extras import require
from headstart.mil.bag_store import is_bag_store, read_bag_record
from headstart.output import FolderLock
from headstart.scale import ENGINES
from headstart.slides.patching import PatchSpec
from headstart.slides.reader import available_backend
from headstart.slides.synthetic import make_slide_set
from headstart.slides.tissue import tissue_preset
from headstart.workflow.heatmaps import slide_heatmaps
from headstart.workflow.slides import (
    SlideJob,
    SlideRecipe,
    bag_store_record,
    check_same_recipe,
    find_slides,
    slide_id,
    write_bag_record,
)


def embed_slides(
    slides: str | Path,
    encoder: str = "efficientnet-lite0",
    out: str | Path = "bags",
    *,
    size: int = 256,
    mpp: float = 0.5,
    stride: int | None = None,
    min_tissue: float = 0.25,
    preset: str = "default",
    tissue_options: dict[str, Any] | None = None,
    slide_mpp: float | str | Path | None = None,
    backend: str = "auto",
    encoder_options: dict[str, Any] | None = None,
    engine: str = "local",
    engine_options: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Embed every slide of a folder into a bag store at `out`: tissue (preset + options),
    patches of `size` px at `mpp` µm/px every `stride` px with ≥ `min_tissue` tissue, vectors
    from `encoder`, one `.h5` per slide. `slide_mpp`: a number fills in slides whose files
    record no resolution; a CSV of slide_id,mpp sets those slides' resolution (over their
    metadata). A bag store grows: slides embedded earlier stay, unchanged files are not read
    again, an interrupted run resumes. Returns the bag store's record (each slide done or
    skipped with its reason)."""
    require("cv2", "slides", "tissue segmentation")
    require("h5py", "slides", "writing CLAM/TRIDENT .h5 files")
    available_backend(backend)  # an unknown or missing reader fails before any slide
    recipe = SlideRecipe(
        PatchSpec(size, mpp, stride, min_tissue),
        tissue_preset(preset, **(tissue_options or {})),
        backend,
    )
    paths = find_slides(slides)
    mpps, override = _given_mpps(slide_mpp, [slide_id(p) for p in paths])
    model = create_encoder(encoder, **(encoder_options or {}))
    if model.card.modality != "image":
        raise DataError(f"encoder {encoder!r} takes {model.card.modality} items, not image patches")
    runner = ENGINES.create(engine, **(engine_options or {}))
    out = Path(out)
    lock = FolderLock(out, "bag store").acquire()
    try:
        if overwrite:
            _clear(out)
        check_same_recipe(out, model, recipe)
        out.mkdir(parents=True, exist_ok=True)
        records = {s["id"]: s for s in read_bag_record(out)["slides"]} if is_bag_store(out) else {}
        jobs = [
            SlideJob(p, mpps.get(slide_id(p)), override, records.get(slide_id(p))) for p in paths
        ]
        for record in runner.slides(jobs, model, out, recipe, progress):
            records[record["id"]] = record  # earlier slides stay; this run's are replaced
            write_bag_record(out, bag_store_record(model, recipe, list(records.values())))
    finally:
        lock.release()
    return bag_store_record(model, recipe, list(records.values()))


def make_slides(
    out: str | Path, slides: int = 24, size: int = 8192, seed: int = 0, mpp: float = 0.5
) -> Path:
    """Generated slides (tiled pyramidal TIFFs of real micrograph texture, pen marks, planted
    regions in positive slides) with labels.csv and the truth under truth/."""
    require("tifffile", "slides", "writing generated slides")
    if slides < 2:
        raise DataError(f"slides {slides}: a slide set needs at least 2 slides")
    return make_slide_set(out, slides, size, mpp=mpp, seed=seed)


def _given_mpps(given: float | str | Path | None, ids: list[str]) -> tuple[dict[str, float], bool]:
    """(µm/px per slide id, whether they override the metadata): one number fills in every
    slide without a resolution; a slide_id,mpp CSV sets those slides' (an id that is no slide
    of the folder is an error: a typo would otherwise go unnoticed)."""
    if given is None:
        return {}, False
    if isinstance(given, int | float) or (isinstance(given, str) and _is_number(given)):
        return dict.fromkeys(ids, float(given)), False
    path = Path(given)
    if not path.is_file():
        raise DataError(f"--slide-mpp {given!r} is neither a number nor a slide_id,mpp CSV file")
    values = {}
    for line, row in enumerate(read_csv_rows(path, ("slide_id", "mpp"), "slide_id,mpp"), 2):
        if not _is_number(row["mpp"]):
            raise DataError(f"{path}: line {line}: mpp {row['mpp']!r} is not a number")
        values[slide_id(row["slide_id"])] = float(row["mpp"])
    unknown = sorted(set(values) - set(ids))
    if unknown:
        raise DataError(f"{path} names slides that are not in the folder: {unknown[:5]}")
    return values, True


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _clear(out: Path) -> None:
    """--overwrite: remove what an earlier bag store wrote (and nothing else)."""
    import shutil

    from headstart.mil.bag_store import BAGS_FILE
    from headstart.workflow.slides import H5_DIR, PATCHES_DIR, STORES, TISSUE_DIR

    for name in (STORES, H5_DIR, PATCHES_DIR, TISSUE_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
    (out / BAGS_FILE).unlink(missing_ok=True)


__all__ = ["embed_slides", "make_slides", "slide_heatmaps"]
