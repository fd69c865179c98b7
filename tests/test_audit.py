"""`headstart audit` (issue 14): planted label flips, a train/test duplicate and an outlier
are reported; --fix writes a new store and never touches the audited one; bad inputs are
refused before any work; no verdict on a training item depends on a test label."""

from __future__ import annotations

import hashlib
import os
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from headstart import api
from headstart.cli import app
from headstart.exceptions import DataError, HeadstartError, UnknownNameError
from headstart.store import Store, write_vectors

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
runner = CliRunner()


def _planted_store(path, labelled=True, seed=0):
    """400 items of 4 Gaussian classes (train 300, test 100); 20 training labels flipped;
    item 5 copied into the test split; item 7 moved far from every class."""
    rng = np.random.default_rng(seed)
    truth = np.tile(np.arange(4), 100)
    X = rng.normal(size=(4, 16))[truth] * 1.5 + rng.normal(size=(400, 16))
    split = np.array(["train"] * 300 + ["test"] * 100)
    labels = truth.copy()
    flipped = rng.choice(np.arange(8, 300), 20, replace=False)
    labels[flipped] = (truth[flipped] + 1) % 4
    X[350] = X[5] * 1.0001  # a training item's near copy in the test split
    X[7] = -X[7] * 6  # an outlier of its class
    names = ["a", "b", "c", "d"]
    store = write_vectors(
        path,
        X,
        labels=[names[c] for c in labels] if labelled else None,
        ids=[f"item-{i}" for i in range(400)],
        split=split,
        class_names=names if labelled else None,
    )
    return store, flipped


def _digest(folder):
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            digest.update(file.name.encode() + file.read_bytes())
    return digest.hexdigest()


def test_audit_reports_planted_flips_duplicates_and_outliers_and_fixes_a_copy(tmp_path):
    store, flipped = _planted_store(tmp_path / "s")
    before = _digest(store.root)
    result = api.audit(store.root, tmp_path / "audit", fix="relabel", progress=False)
    flagged = {r["id"] for r in result.issues if "confident-learning" in r["flagged_by"]}
    planted = {f"item-{i}" for i in flipped}
    assert len(flagged & planted) >= 18 and len(flagged - planted) <= 4, flagged ^ planted
    for row in result.issues:
        if row["id"] in planted:
            i = int(row["id"].split("-")[1])
            assert row["suggested"] == "abcd"[i % 4]  # the true class
    duplicates = (tmp_path / "audit" / "duplicates.csv").read_text()
    assert "item-5,train" in duplicates and "item-350,test" in duplicates
    assert result.summary["train_test_leaks"] == 1
    assert "item-7," in (tmp_path / "audit" / "outliers.csv").read_text()
    fixed = Store(result.fixed)
    assert fixed.key != store.key and _digest(store.root) == before  # never in place
    assert fixed.card == store.card and fixed.manifest.dataset["derived_from"]["key"] == store.key
    changed = np.flatnonzero(fixed.labels != store.labels)
    assert {f"item-{i}" for i in changed} == flagged
    page = (tmp_path / "audit" / "audit.html").read_text()
    assert "imported vectors" in page and "Top suspected label errors" in page


def test_fix_drop_removes_the_flagged_items_and_never_writes_over_a_path(tmp_path):
    store, _ = _planted_store(tmp_path / "s")
    result = api.audit(store.root, tmp_path / "a", fix="drop", progress=False)
    dropped = set(store.ids) - set(Store(result.fixed).ids)
    assert dropped == {r["id"] for r in result.issues if "confident-learning" in r["flagged_by"]}
    (tmp_path / "taken").mkdir()
    with pytest.raises(DataError, match="taken exists already"):
        api.audit(store.root, tmp_path / "b", fix="drop", fix_out=tmp_path / "taken")
    assert not (tmp_path / "b").exists()  # refused before any work


def test_no_detector_verdict_on_a_training_item_sees_a_test_label(tmp_path):
    """The leak test: every test label permuted, every training verdict unchanged."""
    store, _ = _planted_store(tmp_path / "s")
    shuffled = store.labels.copy()
    test = store.split == "test"
    shuffled[test] = np.random.default_rng(1).permutation(shuffled[test])
    other = write_vectors(
        tmp_path / "t",
        store.vectors(),
        labels=[store.class_names[c] for c in shuffled],
        ids=store.ids,
        split=store.split,
        class_names=store.class_names,
    )
    first = api.audit(store.root, tmp_path / "a1", progress=False).issues
    second = api.audit(other.root, tmp_path / "a2", progress=False).issues
    assert [r for r in first if r["split"] == "train"] == [
        r for r in second if r["split"] == "train"
    ]


def test_a_store_without_labels_gets_duplicates_and_outliers_only(tmp_path):
    store, _ = _planted_store(tmp_path / "s", labelled=False)
    result = api.audit(store.root, tmp_path / "a", progress=False)
    assert result.issues == [] and result.summary["flagged"] == {}
    assert "no labels" in result.summary["notes"][0]
    assert result.summary["train_test_leaks"] == 1
    assert "no labels" in (tmp_path / "a" / "audit.html").read_text()


def test_bad_inputs_are_refused_with_what_is_wrong(tmp_path):
    rng = np.random.default_rng(3)
    lonely = write_vectors(
        tmp_path / "one",
        rng.normal(size=(41, 4)),
        labels=["x"] * 20 + ["y"] * 20 + ["z"],
        split=["train"] * 41,
    )
    with pytest.raises(DataError, match="class 'z' has 1 labelled item"):
        api.audit(lonely.root, tmp_path / "a", progress=False)
    store, _ = _planted_store(tmp_path / "s")
    attributes = tmp_path / "attrs.csv"
    attributes.write_text("id,site\n" + "".join(f"item-{i},{i % 3}\n" for i in range(399)))
    with pytest.raises(DataError, match="399 rows of attributes for the store's 400 items"):
        api.audit(store.root, tmp_path / "b", attributes=attributes, progress=False)
    with pytest.raises(UnknownNameError, match="unknown detector 'cleanlab'"):
        api.audit(store.root, tmp_path / "c", detectors=["cleanlab"], progress=False)
    with pytest.raises(HeadstartError, match="not an image store"):
        api.audit(store.root, tmp_path / "d", image_stats=True, progress=False)
    assert not any((tmp_path / d).exists() for d in "abcd")  # refused before any work


def test_attributes_give_a_feature_bias_table(tmp_path):
    store, _ = _planted_store(tmp_path / "s")
    attributes = tmp_path / "attrs.csv"
    brightness = store.vectors()[:, 0]  # a direction of the space itself: fully decodable
    site = np.random.default_rng(5).integers(0, 2, 400)  # unrelated to the items
    attributes.write_text(
        "id,brightness,site\n"
        + "".join(f"item-{i},{brightness[i]:.5f},{'ab'[site[i]]}\n" for i in range(400))
    )
    result = api.audit(store.root, tmp_path / "a", attributes=attributes, progress=False)
    rows = {r["attribute"]: r for r in result.summary["feature_bias"]}
    assert set(rows) == {"label", "brightness", "site"}
    assert rows["brightness"]["decodability"] > 0.95 and rows["site"]["decodability"] < 0.65
    assert (tmp_path / "a" / "feature_bias.csv").is_file()


def test_cli_audit_of_an_image_folder_shows_thumbnails_in_chromium(tmp_path):
    if CHROMIUM is None and os.environ.get("CI") != "true":
        pytest.skip("Debian chromium is installed by .ci/run")
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(4)
    for split in ("train", "test"):
        for c in range(3):
            folder = tmp_path / "img" / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(6):  # distinct noise images: cosine ≈ 0.75 between any two
                pixels = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    shutil.copy(tmp_path / "img/train/class0/0.png", tmp_path / "img/test/class0/copy.png")
    store = api.embed(str(tmp_path / "img"), "raw-pixels", tmp_path / "s", progress=False).store
    args = ["audit", str(store.root), "-o", str(tmp_path / "a"), "-q", "--image-stats"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 across train/test" in " ".join(result.output.split())
    bias = (tmp_path / "a" / "feature_bias.csv").read_text()
    assert bias.startswith("attribute,") and "brightness,numeric" in bias
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto((tmp_path / "a" / "audit.html").resolve().as_uri())
        leak = page.locator("div.group.leak")
        assert leak.count() == 1 and leak.locator("img").count() == 2
        for image in leak.locator("img").all():
            assert image.evaluate("i => i.complete && i.naturalWidth > 0")
        page.screenshot(path=tmp_path / "audit.png", full_page=True)
        browser.close()
