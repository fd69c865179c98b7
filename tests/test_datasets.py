import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import FASHION_MNIST
from PIL import Image

from headstart.datasets import Dataset, load_dataset
from headstart.datasets.fashion_mnist import read_idx
from headstart.exceptions import DataError


def save_image(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (6, 6), (value, value, value)).save(path)


def test_digits_and_mnist5k_are_real():
    digits = load_dataset("digits")
    assert digits.items.shape == (1797, 8, 8) and digits.items.dtype == np.uint8
    assert digits.items.max() == 255 and set(digits.labels) == set(range(10))
    mnist = load_dataset("mnist5k")
    assert mnist.items.shape == (5000, 28, 28)
    assert np.bincount(mnist.labels).tolist() == [500] * 10


@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian dataset-fashion-mnist not installed")
def test_fashion_mnist_keeps_the_official_split():
    data = load_dataset("fashion-mnist")
    assert len(data) == 70_000 and data.items.shape[1:] == (28, 28)
    assert (data.split == "train").sum() == 60_000 and (data.split == "test").sum() == 10_000
    assert np.bincount(data.labels[data.split == "test"]).tolist() == [1000] * 10
    assert data.class_names[9] == "Ankle boot"


def test_idx_reader_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad-idx"
    bad.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    with pytest.raises(DataError, match="declares shape"):
        read_idx(bad)
    bad.write_bytes(b"GIF89a")
    with pytest.raises(DataError, match="bad magic"):
        read_idx(bad)


def test_take_is_class_balanced_per_split():
    data = load_dataset("digits")
    data.split = np.where(np.arange(len(data)) < 1000, "train", "test").astype(object)
    small = data.take(50, seed=1)
    assert (small.split == "train").sum() == 50 and (small.split == "test").sum() == 50
    counts = np.bincount(small.labels[small.split == "train"], minlength=10)
    assert counts.min() == 5 and counts.max() == 5
    assert small.take(50, seed=1).ids == small.ids


def test_image_folder_with_split_layout(tmp_path):
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            save_image(tmp_path / split / cls / "a.png")
            save_image(tmp_path / split / cls / "b.JPG")
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")
    data = load_dataset(str(tmp_path))
    assert data.class_names == ["cat", "dog"] and len(data) == 8
    assert sorted(set(data.split)) == ["test", "train"]
    assert "train/cat/a.png" in data.ids


def test_unreadable_directory_stops_with_its_path(tmp_path, monkeypatch):
    save_image(tmp_path / "root" / "cat" / "a.png")
    locked = tmp_path / "root" / "cat"
    if os.geteuid() != 0:
        locked.chmod(0)
    else:  # root reads everything: make the OS answer as it would for a normal user
        real = os.scandir

        def scandir(path="."):
            if str(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(os, "scandir", scandir)
    try:
        with pytest.raises(DataError, match=r"cannot read directory .*cat"):
            load_dataset(str(tmp_path / "root"))
    finally:
        locked.chmod(0o755)


def test_csv_manifest_reads_labels_groups_and_split(tmp_path):
    save_image(tmp_path / "img" / "a.png")
    save_image(tmp_path / "img" / "b.png")
    (tmp_path / "m.csv").write_text(
        "path,label,group,split\nimg/a.png,dog,p1,train\nimg/b.png,cat,p2,test\n"
    )
    data = load_dataset(str(tmp_path / "m.csv"))
    assert data.class_names == ["cat", "dog"] and data.labels.tolist() == [1, 0]
    assert data.groups.tolist() == ["p1", "p2"] and data.split.tolist() == ["train", "test"]


def test_csv_missing_file_names_the_line(tmp_path):
    save_image(tmp_path / "a.png")
    (tmp_path / "m.csv").write_text("path,label\na.png,x\nmissing.png,y\n")
    with pytest.raises(DataError, match=r"line 3: file 'missing.png' does not exist"):
        load_dataset(str(tmp_path / "m.csv"))


def test_csv_duplicate_ids_and_bad_header(tmp_path):
    save_image(tmp_path / "a.png")
    (tmp_path / "dup.csv").write_text("path,label\na.png,x\na.png,y\n")
    with pytest.raises(DataError, match=r"line 3: duplicate id 'a.png' \(first on line 2\)"):
        load_dataset(str(tmp_path / "dup.csv"))
    (tmp_path / "head.csv").write_text("file,class\na.png,x\n")
    with pytest.raises(DataError, match=r"lacks column\(s\) \['path', 'label'\]"):
        load_dataset(str(tmp_path / "head.csv"))


def test_dataset_rejects_duplicate_ids_and_bad_labels():
    items = np.zeros((3, 4, 4), np.uint8)
    with pytest.raises(DataError, match=r"duplicate ids, e.g. 'a' at rows \[0, 2\]"):
        Dataset("d", items, [0, 0, 0], ["x"], ["a", "b", "a"])
    with pytest.raises(DataError, match="label 3 at row 1 is outside"):
        Dataset("d", items, [0, 3, 0], ["x"], ["a", "b", "c"])


def test_fingerprint_follows_content(tmp_path):
    save_image(tmp_path / "c" / "a.png", 0)
    first = load_dataset(str(tmp_path)).fingerprint
    assert load_dataset(str(tmp_path)).fingerprint == first
    save_image(tmp_path / "c" / "a.png", 255)
    assert load_dataset(str(tmp_path)).fingerprint != first


@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="Debian dataset-fashion-mnist not installed")
def test_download_verifies_checksums(tmp_path, monkeypatch):
    import shutil
    import urllib.request

    from headstart.datasets import fashion_mnist

    def from_debian(url, target):
        shutil.copy(FASHION_MNIST.parent / url.rsplit("/", 1)[1], target)

    monkeypatch.setattr(urllib.request, "urlretrieve", from_debian)
    folder = fashion_mnist.fetch(tmp_path / "ok")
    assert sorted(p.name for p in folder.iterdir()) == sorted(fashion_mnist.FILES)

    def corrupted(url, target):
        from_debian(url, target)
        path = Path(target)
        data = bytearray(gzip.decompress(path.read_bytes()))
        data[-1] ^= 0xFF
        path.write_bytes(gzip.compress(bytes(data)))

    monkeypatch.setattr(urllib.request, "urlretrieve", corrupted)
    with pytest.raises(DataError, match=r"has sha256 .* expected"):
        fashion_mnist.fetch(tmp_path / "bad")
    assert not list((tmp_path / "bad").glob("*.gz"))


def test_image_folder_layouts_that_were_silently_wrong(tmp_path):
    """Issue 11: root/{train,test,extra}/<class> became three classes named after the
    folders; a symlink `loop -> .` added a duplicated class; an empty class folder stayed in
    `class_names`."""
    mixed = tmp_path / "mixed"
    for split in ("train", "test", "extra"):
        save_image(mixed / split / "cat" / "a.png")
    with pytest.raises(DataError, match=r"\['test', 'train'\] are split names but \['extra'\]"):
        load_dataset(str(mixed))
    plain = tmp_path / "plain"
    save_image(plain / "cat" / "a.png")
    save_image(plain / "dog" / "b.png")
    os.symlink(plain, plain / "loop")
    data = load_dataset(str(plain))
    assert data.class_names == ["cat", "dog"] and len(data) == 2
    (plain / "emu").mkdir()
    with pytest.raises(DataError, match=r"class folder\(s\) \['emu'\] hold no image files"):
        load_dataset(str(plain))


def test_a_float_image_beyond_255_is_scaled_not_clipped_white(tmp_path):
    from headstart.datasets import load_rgb

    values = np.linspace(0, 1000, 64, dtype=np.float32).reshape(8, 8)
    Image.fromarray(values, mode="F").save(tmp_path / "wide.tif")
    pixels = np.asarray(load_rgb(str(tmp_path / "wide.tif")))[..., 0].astype(float)
    np.testing.assert_allclose(pixels, np.round(values * 255 / 1000), atol=1)


def test_csv_rows_with_extra_or_missing_fields_are_named(tmp_path):
    """Issue 11: csv.DictReader cut extra fields and padded missing ones silently."""
    save_image(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\na.png,cat\na.png,cat,extra\na.png\n")
    with pytest.raises(DataError) as error:
        load_dataset(str(manifest))
    message = str(error.value)
    assert "line 3: 3 fields, the header has 2" in message
    assert "line 4: 1 fields, the header has 2" in message
    texts = tmp_path / "t.csv"
    texts.write_text('text,label\n"a, quoted text",x\nno label field\n')
    with pytest.raises(DataError, match="line 3: 1 fields, the header has 2"):
        load_dataset(str(texts))
