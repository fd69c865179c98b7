"""Issue 29: slides → tissue → patches → bags → MIL → heat maps, on generated slides."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import tifffile
from sklearn.metrics import roc_auc_score

from headstart import api
from headstart.exceptions import DataError
from headstart.mil import MILClassifier, load_bags
from headstart.mil.bag_store import read_bag_record
from headstart.slides import PatchSpec, Slide, patch_grid, segment_tissue, tissue_preset
from headstart.slides.h5_files import footprint, read_h5
from headstart.slides.patch_item import SlidePatch
from headstart.slides.synthetic import (
    TISSUE,
    SlideSpec,
    damage_tile,
    planted_labels,
    read_layout,
    write_slide,
)
from headstart.slides.tissue import TissueMask

PINK, WHITE, BLUE = (200, 100, 150), (242, 242, 242), (40, 60, 170)


@pytest.fixture(scope="module")
def slide_set(tmp_path_factory):
    """Twelve generated 4096² slides (8 patients), embedded with raw pixels at 1 µm/px."""
    root = tmp_path_factory.mktemp("slides")
    api.make_slides(root / "slides", slides=12, size=4096, seed=2)
    api.embed_slides(
        root / "slides", "raw-pixels", root / "bags", size=128, mpp=1.0, progress=False
    )
    return root


# ---- tissue ----------------------------------------------------------------------------------


def _hand_drawn() -> tuple[np.ndarray, np.ndarray]:
    """A thumbnail drawn by hand and the mask it should give: a tissue rectangle with a
    hole, a speck below the area threshold and a blue pen stroke on the background."""
    image = np.full((120, 160, 3), WHITE, np.uint8)
    expected = np.zeros((120, 160), bool)
    image[20:80, 30:110] = PINK
    expected[20:80, 30:110] = True
    image[40:60, 60:80] = WHITE  # a hole, 20 × 20
    expected[40:60, 60:80] = False
    image[100:103, 5:8] = PINK  # a speck of 9 pixels
    image[95:99, 40:150] = BLUE  # pen
    return image, expected


def _within_reach(mask: np.ndarray, expected: np.ndarray) -> bool:
    """Every pixel 3 pixels inside the expected mask is found, none 3 outside: the median
    blur (7 × 7) rounds corners and CLAM's even closing kernel shifts edges by one."""
    import cv2

    kernel = np.ones((7, 7), np.uint8)
    inner = cv2.erode(expected.astype(np.uint8), kernel).astype(bool)
    outer = cv2.dilate(expected.astype(np.uint8), kernel).astype(bool)
    return bool(mask[inner].all() and not mask[~outer].any())


def test_tissue_mask_matches_a_hand_made_mask():
    image, expected = _hand_drawn()
    # downsample 16: one reference patch (512² level-0 px) is 1,024 thumbnail pixels
    preset = tissue_preset("default", a_t=0.5, a_h=0.2)
    mask = segment_tissue(image, 16, preset)
    assert _within_reach(mask.mask, expected)
    assert not mask.mask[50, 70] and not mask.mask[101, 6] and not mask.mask[97, 100]
    assert len(mask.contours) == 1 and len(mask.holes[0]) == 1
    # CLAM's own preset has no pen removal: the stroke becomes tissue
    clam = segment_tissue(image, 16, tissue_preset("clam", a_t=0.2, a_h=0.2))
    assert clam.mask[97, 100] and len(clam.contours) == 2
    # a hole smaller than a_h is filled, as in CLAM
    assert segment_tissue(image, 16, tissue_preset("default", a_t=0.5, a_h=1)).mask[50, 70]


def test_an_island_in_a_hole_stays_and_a_holes_outline_is_tissue():
    image = np.full((120, 160, 3), WHITE, np.uint8)
    image[10:110, 10:150] = PINK
    image[30:90, 40:120] = WHITE  # a large hole (a lumen) ...
    image[50:70, 70:90] = PINK  # ... with tissue inside it
    mask = segment_tissue(image, 16, tissue_preset("default", a_t=0.1, a_h=0.1, close=0))
    assert mask.mask[60, 80]  # the island (CLAM keeps it: it tests each contour's own holes)
    assert not mask.mask[40, 50]  # the hole
    # OpenCV traces a hole along the tissue pixels around it: they stay tissue
    assert mask.mask[29, 50:110].all() and mask.mask[60, 39] and not mask.mask[31, 60]


def test_dense_haematoxylin_is_not_taken_for_pen_ink():
    image = np.full((120, 160, 3), WHITE, np.uint8)
    image[20:100, 20:140] = (90, 70, 150)  # dense haematoxylin, OpenCV hue ≈ 128
    image[40:80, 40:120] = (60, 50, 140)
    mask = segment_tissue(image, 16, tissue_preset("default", a_t=0.5))
    assert mask.mask[60, 80] and mask.mask[30, 30]


def test_preset_overrides_from_the_command_line_are_typed():
    preset = tissue_preset("default", use_otsu="False", sthresh="15", pen_saturation="none")
    assert preset.use_otsu is False and preset.sthresh == 15 and preset.pen_saturation is None
    for bad, message in (({"use_otsu": "maybe"}, "true or false"), ({"mthresh": "x"}, "whole")):
        with pytest.raises(DataError, match=message):
            tissue_preset("default", **bad)


def test_tissue_geojson_is_level0_polygons_with_holes():
    image, _ = _hand_drawn()
    geojson = segment_tissue(image, 16, tissue_preset("default", a_t=0.5, a_h=0.2)).to_geojson()
    (feature,) = geojson["features"]
    outer, hole = feature["geometry"]["coordinates"]
    assert outer[0] == outer[-1] and hole[0] == hole[-1]
    xs, ys = [p[0] for p in outer], [p[1] for p in outer]
    assert abs(min(xs) - 30 * 16) <= 3 * 16 and abs(max(ys) - 79 * 16) <= 3 * 16  # × downsample
    assert feature["properties"]["objectType"] == "annotation"


def test_generated_slide_tissue_agrees_with_its_layout(tmp_path):
    spec = SlideSpec(4096, 4096, 0.5, positive=True, seed=5)
    layout = write_slide(tmp_path / "s.tiff", spec)
    with Slide(tmp_path / "s.tiff") as slide:
        thumbnail = slide.thumbnail(16)
    mask = segment_tissue(thumbnail, 16, tissue_preset("default"))
    truth = layout.regions >= TISSUE  # layout cells are 16 level-0 pixels: the same grid
    iou = (mask.mask & truth).sum() / (mask.mask | truth).sum()
    assert iou > 0.9
    import cv2

    glass = cv2.erode((layout.regions == 0).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert mask.mask[(layout.ink > 0) & glass].mean() < 0.05  # ink on glass is not tissue


# ---- reading and patch coordinates ------------------------------------------------------------


def _coordinate_slide(path, mpp=0.5):
    """A lossless pyramid whose pixels say where they are: R, G = level-0 x, y // 64."""
    with tifffile.TiffWriter(path) as tiff:
        for k, down in enumerate((1, 2, 4, 8)):
            side = 2048 // down
            ys, xs = np.mgrid[0:side, 0:side] * down
            image = np.stack([(xs // 64) % 256, (ys // 64) % 256, np.full_like(xs, 7)], -1)
            per_cm = 1e4 / (mpp * down)
            tiff.write(
                image.astype(np.uint8),
                tile=(128, 128),
                compression="zlib",
                photometric="rgb",
                resolution=(per_cm, per_cm),
                resolutionunit="CENTIMETER",
                subfiletype=0 if k == 0 else 1,
            )


@pytest.mark.parametrize("backend", ["openslide", "tiffslide"])
@pytest.mark.parametrize(
    ("mpp", "level", "read_size"), [(0.5, 0, 64), (1.0, 1, 64), (2.0, 2, 64), (1.5, 1, 96)]
)
def test_patch_coordinates_round_trip_at_every_level(tmp_path, backend, mpp, level, read_size):
    _coordinate_slide(tmp_path / "c.tiff")
    whole = TissueMask(np.ones((128, 128), bool), 16.0, [], [])
    with Slide(tmp_path / "c.tiff", backend=backend) as slide:
        assert slide.mpp == 0.5 and slide.level_downsamples == [1.0, 2.0, 4.0, 8.0]
        grid = patch_grid(
            slide.dimensions, slide.mpp, slide.level_downsamples, whole, PatchSpec(size=64, mpp=mpp)
        )
    assert (grid.level, grid.read_size) == (level, read_size)
    assert len(grid) == (2048 // grid.size0) ** 2
    for x, y in grid.coords[:: max(1, len(grid) // 7)]:
        patch = SlidePatch(
            str(tmp_path / "c.tiff"),
            backend,
            int(x),
            int(y),
            grid.level,
            grid.read_size,
            64,
            "digest",
        ).render()
        assert patch.shape == (64, 64, 3)
        assert tuple(patch[0, 0, :2]) == (x // 64 % 256, y // 64 % 256)
        far = (x + grid.size0 - 1) // 64, (y + grid.size0 - 1) // 64
        assert tuple(patch[-1, -1, :2]) == (far[0] % 256, far[1] % 256)


def test_a_slide_a_little_coarser_than_asked_is_read_at_level_0(tmp_path):
    # a "40×" scan at 0.2525 µm/px asked for 0.25: 1% upsampling, read at level 0
    whole = TissueMask(np.ones((64, 64), bool), 16.0, [], [])
    grid = patch_grid((1024, 1024), 0.2525, [1.0, 2.0, 4.0], whole, PatchSpec(256, 0.25))
    assert (grid.level, grid.read_size, grid.size0) == (0, 253, 253)
    # 40× at 0.2525 asked for 256 px at 0.5: read 507 px at level 0, the footprint exactly that
    grid = patch_grid((4096, 4096), 0.2525, [1.0, 4.0], whole, PatchSpec(256, 0.5))
    assert (grid.level, grid.read_size, grid.size0) == (0, 507, 507)
    with pytest.raises(DataError, match="coarser than"):
        patch_grid((1024, 1024), 0.5, [1.0], whole, PatchSpec(256, 0.25))
    with pytest.raises(DataError, match="between 1 and the patch size"):
        PatchSpec(256, 0.5, stride=300)


def test_thumbnail_is_built_in_chunks_from_the_best_level(tmp_path):
    _coordinate_slide(tmp_path / "c.tiff")
    with Slide(tmp_path / "c.tiff") as slide:
        assert slide.best_level(16) == 3 and slide.best_level(3) == 1
        thumbnail = slide.thumbnail(16)
    assert thumbnail.shape == (128, 128, 3)
    # the thumbnail pixel (row 20, column 50) covers level-0 (800, 320)..: x // 64 = 12.5
    assert abs(int(thumbnail[20, 50, 0]) - 12) <= 1 and abs(int(thumbnail[20, 50, 1]) - 5) <= 1


def test_missing_mpp_is_a_clear_error_unless_given(tmp_path):
    write_slide(tmp_path / "n.tiff", SlideSpec(1024, 1024, None, seed=1))
    with pytest.raises(DataError, match="no microns per pixel"):
        Slide(tmp_path / "n.tiff")
    assert Slide(tmp_path / "n.tiff", mpp=0.25).mpp == 0.25
    write_slide(tmp_path / "m.tiff", SlideSpec(1024, 1024, 0.5, seed=1))
    assert Slide(tmp_path / "m.tiff", mpp=0.25).mpp == 0.5  # a given mpp only fills in
    overridden = Slide(tmp_path / "m.tiff", mpp=0.25, override=True)
    assert overridden.mpp == 0.25 and "metadata says 0.5" in overridden.mpp_source
    # a 72-dpi default resolution tag is no scan's resolution: treated as missing
    tifffile.imwrite(
        tmp_path / "dpi.tiff",
        np.zeros((512, 512, 3), np.uint8),
        tile=(256, 256),
        resolution=(72, 72),
        resolutionunit="INCH",
    )
    with pytest.raises(DataError, match="no microns per pixel"):
        Slide(tmp_path / "dpi.tiff")


def test_a_non_slide_file_is_named(tmp_path):
    (tmp_path / "notes.tif").write_text("not an image")
    with pytest.raises(DataError, match=r"notes\.tif cannot be read as a whole-slide image"):
        Slide(tmp_path / "notes.tif")


# ---- bag store and .h5 files -------------------------------------------------------------------


def test_bag_store_and_h5_files_agree(slide_set):
    record = read_bag_record(slide_set / "bags")
    done = [s for s in record["slides"] if s["status"] == "done"]
    assert len(done) == 12 and record["encoder"]["name"] == "raw-pixels"
    bags = load_bags(str(slide_set / "bags"), labels=slide_set / "slides" / "labels.csv")
    assert bags.coords.shape == (len(bags.instances), 2) and len(set(bags.groups)) == 8
    for i, slide in enumerate(done[:3]):
        features, coords, attrs = read_h5(slide_set / "bags" / slide["h5"])
        assert np.array_equal(features, bags.bag(i))
        assert np.array_equal(coords, bags.coords[bags.offsets[i] : bags.offsets[i + 1]])
        # TRIDENT: patch_size × level-0 magnification // target magnification
        trident = (
            attrs["patch_size"] * attrs["level0_magnification"] // attrs["target_magnification"]
        )
        assert round(trident) == attrs["patch_size_level0"] == 256 == footprint(attrs)
        # CLAM: patch_size pixels read at patch_level
        clam = attrs["patch_size"] * attrs["downsample"][0]
        assert clam == 256 and attrs["patch_level"] == slide["level"] == 1
        assert attrs["patch_size"] == slide["read_size"] == 128 and attrs["output_size"] == 128
        with h5py.File(slide_set / "bags" / slide["coords_h5"], "r") as h5:  # CLAM's patches/
            assert (
                np.array_equal(h5["coords"][:], coords) and h5["coords"].attrs["patch_level"] == 1
            )
    with h5py.File(slide_set / "bags" / done[0]["h5"], "r") as h5:
        assert h5["features"].dtype == np.float32 and h5["coords"].shape[1] == 2
        assert h5["features"].attrs["encoder"] == "raw-pixels"


def test_an_h5_folder_in_clam_layout_reads_here(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "FEATURES" / "h5_files"
    folder.mkdir(parents=True)
    for name in ("a", "b", "c"):
        with h5py.File(folder / f"{name}.h5", "w") as h5:
            h5["features"] = rng.normal(size=(5, 4)).astype(np.float32)
            h5["coords"] = np.arange(10, dtype=np.int32).reshape(5, 2) * 256
            h5["coords"].attrs.update(patch_size=256, patch_level=0, downsample=[1.0, 1.0])
    (tmp_path / "labels.csv").write_text(
        "case_id,slide_id,label\np1,a,tumor\np1,b,tumor\np2,c,normal\n"
    )
    bags = load_bags(str(tmp_path / "FEATURES"), labels=tmp_path / "labels.csv")
    assert bags.ids == ["a", "b", "c"] and bags.groups.tolist() == ["p1", "p1", "p2"]
    assert bags.class_names == ["normal", "tumor"] and bags.coords[1].tolist() == [512, 768]
    assert footprint({"patch_size": 256, "downsample": [2.0, 2.0]}) == 512


KILLER = """
import os, signal, sys
from headstart import api
import headstart.api.slides as slides_api
from headstart.encoders import create_encoder

calls = 0

def killing(name, **options):
    encoder = create_encoder(name, **options)
    original = encoder.encode_batch

    def encode_batch(batch):
        global calls
        calls += 1
        if calls == int(sys.argv[3]):  # a real SIGKILL in the middle of a slide
            os.kill(os.getpid(), signal.SIGKILL)
        return original(batch)

    encoder.encode_batch = encode_batch
    return encoder

slides_api.create_encoder = killing
api.embed_slides(sys.argv[1], "raw-pixels", sys.argv[2], size=64, mpp=1.0, progress=False)
"""


def test_a_killed_slide_run_resumes_to_the_same_bags(tmp_path):
    import signal
    import subprocess
    import sys

    api.make_slides(tmp_path / "slides", slides=3, size=2048, seed=4)
    options = {"size": 64, "mpp": 1.0, "progress": False}
    api.embed_slides(tmp_path / "slides", "raw-pixels", tmp_path / "fresh", **options)
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path / "slides"), str(tmp_path / "bags"), "40"],
        timeout=300,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    first = read_bag_record(tmp_path / "bags")["slides"]
    assert 1 <= len(first) < 3 and {s["status"] for s in first} == {"done"}  # finished ones
    before = (tmp_path / "bags" / "stores" / "slide-000" / "manifest.json").read_text()
    api.embed_slides(tmp_path / "slides", "raw-pixels", tmp_path / "bags", **options)
    assert (tmp_path / "bags" / "stores" / "slide-000" / "manifest.json").read_text() == before
    labels = tmp_path / "slides" / "labels.csv"
    resumed, fresh = (load_bags(str(tmp_path / n), labels=labels) for n in ("bags", "fresh"))
    assert np.array_equal(resumed.instances, fresh.instances)
    assert np.array_equal(resumed.coords, fresh.coords)
    with h5py.File(tmp_path / "bags" / "h5_files" / "slide-002.h5", "r") as h5:
        assert np.array_equal(h5["features"][:], fresh.bag(2))


def test_unusable_slides_are_skipped_with_their_reasons(tmp_path):
    folder = tmp_path / "slides"
    folder.mkdir()
    write_slide(folder / "good.tiff", SlideSpec(2048, 2048, 0.5, seed=3))
    write_slide(folder / "nompp.tiff", SlideSpec(2048, 2048, None, seed=3))
    with tifffile.TiffWriter(folder / "blank.tiff") as tiff:  # glass only
        tiff.write(
            np.full((1024, 1024, 3), 242, np.uint8),
            tile=(256, 256),
            photometric="rgb",
            resolution=(2e4, 2e4),
            resolutionunit="CENTIMETER",
        )
    (folder / "fake.svs").write_text("not a slide")
    (folder / "notes.txt").write_text("not a slide file at all: ignored")
    record = api.embed_slides(
        folder, "raw-pixels", tmp_path / "bags", size=64, mpp=1.0, progress=False
    )
    status = {s["id"]: (s["status"], s.get("reason", "")) for s in record["slides"]}
    assert set(status) == {"good", "nompp", "blank", "fake"}
    assert status["good"][0] == "done"
    assert "no microns per pixel" in status["nompp"][1]
    assert "no tissue found" in status["blank"][1]
    assert "cannot be read as a whole-slide image" in status["fake"][1]
    (tmp_path / "labels.csv").write_text("slide_id,label\ngood,a\nblank,b\n")
    with pytest.raises(DataError, match="'blank' was skipped when embedding: no tissue"):
        load_bags(str(tmp_path / "bags"), labels=tmp_path / "labels.csv")
    # the missing resolution, given, lets that slide in; the others stay as they were
    again = api.embed_slides(
        folder, "raw-pixels", tmp_path / "bags", size=64, mpp=1.0, slide_mpp=0.5, progress=False
    )
    assert {s["id"] for s in again["slides"] if s["status"] == "done"} == {"good", "nompp"}
    with pytest.raises(Exception, match="another encoder or patching recipe"):
        api.embed_slides(folder, "raw-pixels", tmp_path / "bags", size=96, mpp=1.0, progress=False)


def test_a_corrupt_tile_is_a_listed_skip(tmp_path):
    folder = tmp_path / "slides"
    folder.mkdir()
    write_slide(folder / "s.tiff", SlideSpec(2048, 2048, 0.5, seed=6, compression="jpeg"))
    damage_tile(folder / "s.tiff", 1, 10)  # a level-1 tile in the middle (4 × 4 tiles)
    record = api.embed_slides(
        folder,
        "raw-pixels",
        tmp_path / "bags",
        size=64,
        mpp=1.0,
        progress=False,
        backend="openslide",
    )
    (slide,) = record["slides"]
    assert slide["status"] == "done" and slide["unreadable"] >= 1
    failures = (tmp_path / "bags" / "stores" / "s" / "failures.csv").read_text()
    assert "could not be read" in failures


# ---- MIL, attention and heat maps --------------------------------------------------------------


def test_attention_finds_the_planted_regions(slide_set):
    labels = slide_set / "slides" / "labels.csv"
    bags = load_bags(str(slide_set / "bags"), labels=labels)
    model = MILClassifier("attention", epochs=60).fit(bags)
    scores = model.instance_scores(bags)
    positive = bags.class_names.index("positive")
    aurocs = []
    for i, name in enumerate(bags.ids):
        if bags.labels[i] != positive:
            continue
        truth = planted_labels(
            read_layout(slide_set / "slides", name),
            bags.coords[bags.offsets[i] : bags.offsets[i + 1]],
            256,
        )
        kept = truth >= 0
        if len(set(truth[kept])) == 2:
            aurocs.append(roc_auc_score(truth[kept], scores[i][kept]))
    rng = np.random.default_rng(0)
    means = [rng.choice(aurocs, len(aurocs)).mean() for _ in range(2000)]
    assert len(aurocs) >= 4 and np.mean(aurocs) > 0.8 and np.quantile(means, 0.025) > 0.6


def test_heat_maps_and_their_report_section(slide_set, tmp_path):
    labels = slide_set / "slides" / "labels.csv"
    api.mil_fit(str(slide_set / "bags"), tmp_path / "model", "attention", labels=labels, epochs=20)
    summary = api.slide_heatmaps(
        tmp_path / "model",
        slide_set / "bags",
        tmp_path / "heat",
        slides=["slide-001", "slide-002"],
        top=3,
    )
    assert [s["id"] for s in summary["slides"]] == ["slide-001", "slide-002"]
    assert summary["slides"][0]["predicted"] in ("negative", "positive")
    shown = summary["slides"][0]
    geojson = json.loads((tmp_path / "heat" / shown["geojson"]).read_text())
    assert len(geojson["features"]) == shown["patches"]
    measured = geojson["features"][0]["properties"]["measurements"]
    assert set(measured) == {"attention", "attention rank"}
    rows = (tmp_path / "heat" / shown["csv"]).read_text().splitlines()
    assert (
        rows[0] == "slide_id,x,y,size_level0,attention,rank" and len(rows) == shown["patches"] + 1
    )
    weights = np.array([float(r.split(",")[4]) for r in rows[1:]])
    assert abs(weights.sum() - 1) < 1e-3  # attention over one slide's patches sums to one
    for key in ("heatmap", "gallery"):
        assert (tmp_path / "heat" / shown[key]).stat().st_size > 1000
    api.mil_evaluate(
        str(slide_set / "bags"),
        ("mean",),
        folds=2,
        repeats=1,
        epochs=2,
        labels=str(labels),
        out=tmp_path / "run",
        progress=False,
    )
    page = api.report(tmp_path / "run", tmp_path / "r.html", slides=tmp_path / "heat")
    text = page.read_text()
    assert "Where the model looks on the slides" in text and text.count("data:image/png") >= 4
    mean_model = api.mil_fit(
        str(slide_set / "bags"), tmp_path / "mean", "mean", labels=labels, epochs=2
    )
    with pytest.raises(DataError, match="has no attention"):
        api.slide_heatmaps(mean_model, slide_set / "bags", tmp_path / "h2")


def test_mil_eval_keeps_a_patients_slides_on_one_side(slide_set):
    from headstart.protocol.mil_cv import mil_folds

    bags = load_bags(str(slide_set / "bags"), labels=slide_set / "slides" / "labels.csv")
    for train, test in mil_folds(bags, 4, 0):
        assert not set(bags.groups[train]) & set(bags.groups[test])


def test_a_bag_store_grows_reuses_unchanged_slides_and_redoes_changed_ones(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    write_slide(first / "a.tiff", SlideSpec(2048, 2048, 0.5, seed=1))
    write_slide(first / "b.tiff", SlideSpec(2048, 2048, 0.5, seed=2))
    write_slide(second / "c.tiff", SlideSpec(2048, 2048, 0.5, seed=3))
    options = {"size": 64, "mpp": 1.0, "progress": False}
    api.embed_slides(first, "raw-pixels", tmp_path / "bags", **options)
    preview = tmp_path / "bags" / "tissue" / "a.png"
    made = preview.stat().st_mtime_ns
    record = api.embed_slides(second, "raw-pixels", tmp_path / "bags", **options)
    assert [s["id"] for s in record["slides"]] == ["a", "b", "c"]  # earlier slides stay
    again = api.embed_slides(first, "raw-pixels", tmp_path / "bags", **options)
    assert preview.stat().st_mtime_ns == made  # unchanged and finished: not read again
    assert {s["id"]: s["sha256"] for s in again["slides"]}["a"] == record["slides"][0]["sha256"]
    write_slide(first / "a.tiff", SlideSpec(2048, 2048, 0.5, seed=9))  # a re-scan, same name
    redone = api.embed_slides(first, "raw-pixels", tmp_path / "bags", **options)
    slide_a = {s["id"]: s for s in redone["slides"]}["a"]
    assert slide_a["status"] == "done" and slide_a["replaced"]
    assert slide_a["sha256"] != record["slides"][0]["sha256"]
    # labels may name slides with their file suffix
    (tmp_path / "labels.csv").write_text("slide_id,label\na.tiff,x\nb,y\nc.tiff,y\n")
    bags = load_bags(str(tmp_path / "bags"), labels=tmp_path / "labels.csv")
    assert bags.ids == ["a", "b", "c"]


def test_slide_mpp_csv_sets_named_slides_and_refuses_unknown_ones(tmp_path):
    folder = tmp_path / "slides"
    write_slide(folder / "a.tiff", SlideSpec(2048, 2048, None, seed=1))
    write_slide(folder / "b.tiff", SlideSpec(2048, 2048, 0.5, seed=2))
    (tmp_path / "mpp.csv").write_text("slide_id,mpp\na.tiff,0.5\nb,0.25\n")
    record = api.embed_slides(
        folder,
        "raw-pixels",
        tmp_path / "bags",
        size=64,
        mpp=1.0,
        slide_mpp=tmp_path / "mpp.csv",
        progress=False,
    )
    slides = {s["id"]: s["slide"] for s in record["slides"]}
    assert slides["a"]["mpp"] == 0.5 and slides["b"]["mpp"] == 0.25  # the CSV wins
    assert "metadata says 0.5" in slides["b"]["mpp_source"]
    (tmp_path / "typo.csv").write_text("slide_id,mpp\nz,0.5\n")
    with pytest.raises(DataError, match=r"not in the folder: \['z'\]"):
        api.embed_slides(
            folder, "raw-pixels", tmp_path / "b2", slide_mpp=tmp_path / "typo.csv", progress=False
        )
