"""Every awkward image a user may hand us: skipped with a reason, or converted faithfully."""

import csv

import numpy as np
import pytest
from fuzz_inputs import odd_image
from PIL import Image

from headstart.datasets import ItemError, load_dataset, load_rgb
from headstart.embedding import embed_dataset
from headstart.encoders import create_encoder


def make_file(folder, name, kind):
    """Write one image of `kind` (tests/fuzz_inputs.odd_image) and return its path."""
    if kind == "good":
        pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)
    else:
        odd_image(folder / name, kind)
    return folder / name


def test_conversions_are_faithful(tmp_path):
    red = load_rgb(make_file(tmp_path, "cmyk.jpg", "cmyk"))
    assert red.mode == "RGB" and red.getpixel((4, 4))[0] > 240
    assert load_rgb(make_file(tmp_path, "deep.png", "16bit")).getpixel((0, 0)) == (156, 156, 156)
    # transparent pixels are composited over white, not shown as their hidden colour
    assert load_rgb(make_file(tmp_path, "p.png", "palette")).getpixel((0, 0)) == (255, 255, 255)
    assert load_rgb(make_file(tmp_path, "a.png", "rgba")).getpixel((0, 0)) == (255, 255, 255)
    assert load_rgb(make_file(tmp_path, "one.png", "tiny")).size == (1, 1)


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("zero", "empty file"),
        ("truncated", "cannot decode"),
        ("text", "not a recognised image"),
        ("bomb", "decompression-bomb guard"),
    ],
)
def test_unusable_items_raise_item_error(tmp_path, kind, reason):
    with pytest.raises(ItemError, match=reason):
        load_rgb(make_file(tmp_path, f"x.{'png' if kind == 'bomb' else 'jpg'}", kind))


def test_embed_skips_and_lists_bad_items(tmp_path):
    root = tmp_path / "images"
    kinds = [
        "good",
        "zero",
        "truncated",
        "text",
        "cmyk",
        "16bit",
        "palette",
        "rgba",
        "tiny",
        "bomb",
    ]
    lossless = ("16bit", "palette", "rgba", "bomb", "tiny")
    for kind in kinds:
        (root / kind).mkdir(parents=True)
        make_file(root / kind, f"{kind}.{'png' if kind in lossless else 'jpg'}", kind)
    dataset = load_dataset(str(root))
    result = embed_dataset(
        dataset, create_encoder("raw-pixels"), tmp_path / "store", progress=False
    )
    store = result.store
    skipped = {row["id"].split("/")[0]: row["reason"] for row in store.failures}
    assert set(skipped) == {"zero", "truncated", "text", "bomb"}
    assert {i.split("/")[0] for i in store.ids} == {
        "good",
        "cmyk",
        "16bit",
        "palette",
        "rgba",
        "tiny",
    }
    assert np.isfinite(store.vectors()).all()
    with open(store.root / "failures.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["path"].split("/")[-1] for r in rows} == {
        "zero.jpg",
        "truncated.jpg",
        "text.jpg",
        "bomb.png",
    }
    assert all(r["reason"] for r in rows)
    assert "4 skipped" in result.summary()


def test_a_file_name_that_is_not_utf8_is_embedded_under_an_escaped_id(tmp_path):
    """A non-UTF-8 file name aborted the whole embed with UnicodeEncodeError (hashing the
    ids); now it is embedded like the others, its id showing the bad byte as \\xff."""
    import os

    from conftest import image_folder

    image_folder(tmp_path / "images", per_class=2)
    root = os.fsencode(tmp_path / "images" / "cat")
    os.rename(root + b"/0.png", root + b"/bad\xff.png")
    data = load_dataset(str(tmp_path / "images"))
    result = embed_dataset(data, create_encoder("raw-pixels"), tmp_path / "s", progress=False)
    assert len(result.store) == 4 and "cat/bad\\xff.png" in result.store.ids
