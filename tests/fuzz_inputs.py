"""The files behind the fuzz table (tests/fuzz_cases.py): small bad and odd inputs of every
family, made once in a folder. Uses only `api.embed`/`api.fit` and plain file writing, so
benchmarks/fuzz_outcomes.py can build the same inputs with an older headstart."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from headstart import api

try:
    from headstart.json_files import sealed
except ImportError:  # a tree from before metadata seals, run by benchmarks/fuzz_outcomes.py

    def sealed(data):
        return data


RNG_SEED = 0


def _png(path: Path, seed: int, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _classes(root: Path, classes=("cat", "dog"), per_class: int = 2) -> Path:
    for c, label in enumerate(classes):
        for i in range(per_class):
            _png(root / label / f"{i}.png", seed=10 * c + i)
    return root


def odd_image(path: Path, kind: str) -> None:
    """One unusual file: unusable ones (zero … bomb) are skipped, the others converted."""
    rng = np.random.default_rng(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "zero":
        path.write_bytes(b"")
    elif kind == "truncated":
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, "JPEG")
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "text":
        path.write_text("this is not an image\n" * 10)
    elif kind == "bomb":
        Image.new("1", (12_000, 12_000), 0).save(path)
    elif kind == "cmyk":
        Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, "JPEG", quality=100)
    elif kind == "16bit":
        Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(path)
    elif kind == "palette":
        image = Image.new("P", (8, 8), 0)
        image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
        image.save(path, transparency=0)
    elif kind == "rgba":
        Image.new("RGBA", (8, 8), (0, 0, 255, 0)).save(path)
    elif kind == "tiny":
        Image.new("RGB", (1, 1), (10, 200, 30)).save(path)
    elif kind == "float-tiff":
        values = np.linspace(0, 1000, 64, dtype=np.float32).reshape(8, 8)
        Image.fromarray(values, mode="F").save(path)
    elif kind == "gray":
        Image.fromarray(rng.integers(0, 256, (9, 9), dtype=np.uint8), mode="L").save(path)
    else:
        raise ValueError(kind)


ODD_IMAGES = {  # kind: file name
    "zero": "z.jpg",
    "truncated": "t.jpg",
    "text": "x.jpg",
    "bomb": "b.png",
    "cmyk": "c.jpg",
    "16bit": "d.png",
    "palette": "p.png",
    "rgba": "a.png",
    "tiny": "one.png",
    "float-tiff": "f.tif",
    "gray": "g.png",
}


def image_inputs(t: Path) -> None:
    img = t / "img"
    for kind, name in ODD_IMAGES.items():
        odd_image(_classes(img / kind) / "cat" / name, kind)
    _classes(img / "empty-class")
    (img / "empty-class" / "emu").mkdir()
    for split in ("train", "test", "extra"):
        _png(img / "mixed" / split / "cat" / "a.png", 0)
    _classes(img / "loop")
    os.symlink(img / "loop", img / "loop" / "loop")
    _classes(img / "non-utf8")
    folder = os.fsencode(img / "non-utf8" / "cat")
    os.rename(folder + b"/0.png", folder + b"/bad\xff.png")
    _classes(img / "hidden")
    (img / "hidden" / "cat" / ".DS_Store").write_bytes(b"\0\1\2")
    (img / "hidden" / "cat" / "Thumbs.db").write_bytes(b"xx")
    (img / "hidden" / "dog" / "notes.txt").write_text("hi")
    _classes(img / "upper")
    (img / "upper" / "cat" / "0.png").rename(img / "upper" / "cat" / "0.PNG")
    _classes(img / "nested")
    _png(img / "nested" / "cat" / "more" / "x.png", 99)
    _classes(img / "loose")
    _png(img / "loose" / "stray.png", 98)
    _png(img / "flat" / "a.png", 0)
    _classes(img / "device")  # issue 25 #7: these hung embed forever
    os.symlink("/dev/zero", img / "device" / "cat" / "zero.png")
    _classes(img / "fifo")
    os.mkfifo(img / "fifo" / "cat" / "f.png")
    _classes(img / "linked-sub")  # issue 25 #15: a linked sub-folder was ignored
    _png(img / "elsewhere" / "x.png", 97)
    os.symlink(img / "elsewhere", img / "linked-sub" / "cat" / "more")
    os.symlink(img / "linked-sub" / "cat", img / "linked-sub" / "cat" / "again")
    _classes(img / "one-class", classes=("cat",))
    for split in ("train", "test"):
        _classes(img / "split" / split)
    _classes(img / "unicode", classes=("café", "日本"))
    (img / "nothing").mkdir()
    for label in ("cat", "dog"):
        (img / "no-images" / label).mkdir(parents=True)
        (img / "no-images" / label / "a.txt").write_text("x")
    _classes(img / "train-set", per_class=3)
    _classes(img / "to-predict", per_class=1)
    odd_image(img / "to-predict" / "cat" / "z.jpg", "zero")
    odd_image(img / "to-predict" / "dog" / "t.jpg", "truncated")


def csv_inputs(t: Path) -> None:
    c = t / "csv"
    _classes(c / "images")
    rows = {
        "extra": "path,label\nimages/cat/0.png,cat,extra\n",
        "missing": "path,label\nimages/cat/0.png,cat\nimages/dog/0.png\n",
        "no-path": "file,label\nimages/cat/0.png,cat\n",
        "header-only": "path,label\n",
        "missing-file": "path,label\nimages/cat/0.png,cat\nimages/cat/nope.png,cat\n",
        "duplicate": "path,label\nimages/cat/0.png,cat\nimages/cat/0.png,dog\n",
        "semicolon": "path;label\nimages/cat/0.png;cat\n",
        "blank-label": "path,label\nimages/cat/0.png,\nimages/cat/1.png,cat\n"
        "images/dog/0.png,dog\n",
        "bom": "\ufeffpath,label\nimages/cat/0.png,cat\nimages/dog/0.png,dog\n",
        "bad-split": "path,label,split\nimages/cat/0.png,cat,validation\n",
        "good": "path,label\nimages/cat/0.png,cat\nimages/dog/1.png,dog\n",
        "empty": "",
    }
    for name, text in rows.items():
        (c / f"{name}.csv").write_text(text, encoding="utf-8")
    (c / "latin1.csv").write_bytes("path,label\nimages/cat/0.png,caf\xe9\n".encode("latin-1"))


def vector_inputs(t: Path) -> None:
    v = t / "vec"
    v.mkdir()
    rng = np.random.default_rng(RNG_SEED)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    np.save(v / "complex.npy", np.ones((3, 2), np.complex64))
    (v / "pickle.parquet").write_bytes(pickle.dumps({"vector": [1.0]}))
    (v / "random.parquet").write_bytes(rng.bytes(256))
    pq.write_table(pa.table({"vector": ["1,2", "3,4"]}), v / "strings.parquet")
    pq.write_table(pa.table({"vector": [["1", "2"], ["3", "4"]]}), v / "list-strings.parquet")
    np.save(v / "nan.npy", np.array([[1.0, np.nan]], np.float32))
    np.save(v / "inf.npy", np.array([[1.0, 2.0], [np.inf, 0.0]], np.float32))
    np.save(v / "beyond-f32.npy", np.array([[1.0, 2.0], [1e300, 0.0]], np.float64))
    np.savez(v / "tiny.npz", vectors=x * 1e-20, labels=np.arange(6) % 2)
    np.savez(v / "huge.npz", vectors=x * 1e20, labels=np.arange(6) % 2)
    empty = pa.table({"vector": pa.array([], pa.list_(pa.float32()))})
    pq.write_table(empty, v / "no-rows.parquet")
    labels = ["a", None, "b", "a", None, "b"]
    pq.write_table(pa.table({"vector": x.tolist(), "label": labels}), v / "null-labels.parquet")
    np.savez(v / "nan-labels.npz", vectors=x, labels=np.array([0, 1, np.nan, 0, 1, np.nan]))
    splits = ["train", "validation", "test", "train", "test", "train"]
    table = {"vector": x.tolist(), "label": ["a", "b"] * 3, "split": splits}
    pq.write_table(pa.table(table), v / "split-validation.parquet")
    wide = {f"f{i}": x[:, i] for i in range(4)}
    pq.write_table(pa.table({**wide, "label": ["a", "b"] * 3}), v / "wide.parquet")
    extra = {**wide, "score": rng.random(6), "label": ["a", "b"] * 3}
    pq.write_table(pa.table(extra), v / "extra-float.parquet")
    pq.write_table(pa.table({"vector": [[1.0, 2.0], [3.0]]}), v / "ragged.parquet")
    pq.write_table(pa.table({"vector": [[1.0, 2.0], None]}), v / "null-vector.parquet")
    np.save(v / "one-d.npy", np.ones(5, np.float32))
    np.save(v / "three-d.npy", np.ones((2, 3, 4), np.float32))
    np.save(v / "int.npy", np.arange(12, dtype=np.int64).reshape(6, 2))
    np.save(v / "f16.npy", x.astype(np.float16))
    np.save(v / "plain.npy", x)
    np.savez(v / "no-vectors.npz", stuff=x)
    (v / "object.npy").write_bytes(_object_npy())
    ids = ["a", "b", "a", "c", "d", "e"]
    pq.write_table(pa.table({"vector": x.tolist(), "id": ids}), v / "duplicate-ids.parquet")
    np.savez(v / "fractional.npz", vectors=x, labels=np.array([0.5, 1, 0, 1, 0, 1]))
    np.savez(v / "short-labels.npz", vectors=x, labels=np.array([0, 1, 0]))
    np.savez(v / "one-class.npz", vectors=x, labels=np.zeros(6, np.int64))
    (v / "vectors.txt").write_text("1 2 3\n")
    np.save(v / "empty.npy", np.zeros((0, 4), np.float32))
    counts = [30, 20, 6, 3]  # a long tail: at 4 shots the last class is short
    tail = np.repeat(np.arange(4), counts)
    centres = rng.normal(size=(4, 8)) * 3
    np.savez(v / "long-tail.npz", vectors=(centres[tail] + rng.normal(size=(59, 8))), labels=tail)
    for width in (8, 16):
        data = rng.normal(size=(40, width)).astype(np.float32)
        np.savez(v / f"d{width}.npz", vectors=data, labels=np.repeat([0, 1], 20))


def _object_npy() -> bytes:
    """An .npy holding a Python object array (loading it would unpickle)."""
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def store_inputs(t: Path) -> None:
    s = t / "stores"
    s.mkdir()
    shutil.copytree(t / "s", s / "tampered")
    shard = next((s / "tampered" / "shards").glob("*.parquet"))
    table = pq.read_table(shard)
    vectors = table.column("vector").to_pylist()
    vectors[0] = [v + 1.0 for v in vectors[0]]
    index = table.column_names.index("vector")
    column = pa.array(vectors, table.schema.field("vector").type)
    pq.write_table(table.set_column(index, "vector", column), shard)
    shutil.copytree(t / "s", s / "no-shard")
    next((s / "no-shard" / "shards").glob("*.parquet")).unlink()
    shutil.copytree(t / "s", s / "bad-manifest")
    (s / "bad-manifest" / "manifest.json").write_text("{")
    api.import_vectors(t / "vec" / "one-class.npz", s / "one-class")
    api.import_vectors(t / "vec" / "plain.npy", s / "unlabelled")
    for name in ("d8", "d16", "long-tail"):
        api.import_vectors(t / "vec" / f"{name}.npz", s / name)
    texts = "text,label\n" + "".join(
        f"{w} {w} {w},{w}\n" for w in ("cat", "dog", "car", "bus") for _ in range(3)
    )
    (t / "texts.csv").write_text(texts)
    (t / "empty-text.csv").write_text(texts + " ,cat\n")  # issue 25 #16: stopped the embed
    api.embed(str(t / "texts.csv"), "minilm", t / "text-store", progress=False)
    api.build_index(t / "s", t / "index")
    api.build_index(t / "text-store", t / "text-index")
    api.fit(s / "d8", "gda", t / "models" / "d8")
    (t / "attrs-short.csv").write_text("id,site\na,1\nb,2\nc,1\n")
    quick = api.AdaptSettings(loss="supcon", epochs=1, batch_size=8)
    api.adapt(s / "d8", t / "adapter-d8", quick, progress=False)


def _edit_json(path: Path, change, seal: bool = True) -> None:
    """Change a model.json as a crafted file would (sealed again) or a hand edit (not)."""
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(sealed(meta) if seal else meta))


def model_inputs(t: Path) -> None:
    """Copies of a GDA model, each broken one way; a model fitted on images."""
    models = t / "models"
    models.mkdir(exist_ok=True)
    api.fit(t / "s", "gda", models / "gda")
    api.fit(t / "s", "gda", models / "gda-other", params={"scale": "paper"})

    def copy(name: str) -> Path:
        return Path(shutil.copytree(models / "gda", models / name))

    (copy("invalid-json") / "model.json").write_text("{not json")
    _edit_json(copy("unknown-param") / "model.json", lambda m: m["params"].update(foo=0.3))
    _edit_json(copy("unknown-kind") / "model.json", lambda m: m.update(kind="gdaa"))
    hand = copy("hand-edited") / "model.json"
    _edit_json(hand, lambda m: m["versions"].update(headstart="0.0.9"), seal=False)
    key = "q_/../../outside_"
    _edit_json(copy("path-key") / "model.json", lambda m: m["state"].update({key: {}}))
    shadow = copy("shadow") / "model.json"
    _edit_json(shadow, lambda m: m["state"].update(predict_proba=1))
    (copy("no-weights") / "arrays.safetensors").unlink()
    weights = copy("truncated") / "arrays.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    corrupt = copy("corrupt-header")
    (corrupt / "arrays.safetensors").write_bytes(b"\xff" * 64)
    _edit_json(corrupt / "model.json", lambda m: m.pop("arrays_sha256", None))
    swapped = copy("swapped")
    shutil.copy(models / "gda-other" / "arrays.safetensors", swapped / "arrays.safetensors")
    nan = copy("nan-weights")
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(nan / "arrays.safetensors"))
    arrays["coef_"][0, 0] = np.nan
    save_file(arrays, str(nan / "arrays.safetensors"))
    digest = hashlib.sha256((nan / "arrays.safetensors").read_bytes()).hexdigest()
    _edit_json(nan / "model.json", lambda m: m.update(arrays_sha256=digest))
    (copy("bad-provenance") / "provenance.json").write_text("[1, 2")
    (copy("no-provenance") / "provenance.json").unlink()
    api.embed(str(t / "img" / "train-set"), "raw-pixels", t / "img-store", progress=False)
    api.fit(t / "img-store", "prototype", models / "images")


def _slides(folder: Path, names, labels, rng, features="features") -> None:
    folder.mkdir(parents=True)
    for name in names:
        with h5py.File(folder / f"{name}.h5", "w") as h5:
            h5[features] = rng.normal(size=(4, 6)).astype(np.float32)
    lines = ["slide_id,label", *(f"{n},{y}" for n, y in zip(names, labels, strict=False))]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")


def _bag_table(bags, labels, features) -> pa.Table:
    return pa.table({"bag": bags, "label": labels, "features": features})


def mil_inputs(t: Path) -> None:
    b = t / "mil"
    b.mkdir()
    rng = np.random.default_rng(RNG_SEED)
    ids = [f"b{i // 3}" for i in range(36)]  # 12 bags of 3 instances
    names = ["normal", "tumor"]
    text_labels = [names[(i // 3) % 2] for i in range(36)]
    feats = [rng.normal(size=4).tolist() for _ in range(36)]
    pq.write_table(_bag_table(ids, text_labels, feats), b / "string-labels.parquet")
    with_null = [*ids[:1], None, *ids[2:]]
    pq.write_table(_bag_table(with_null, text_labels, feats), b / "null-bag.parquet")
    null_feature = [feats[0], None, *feats[2:]]
    pq.write_table(_bag_table(ids, text_labels, null_feature), b / "null-features.parquet")
    nan_feature = [[float("nan"), 0.0, 0.0, 0.0], *feats[1:]]
    pq.write_table(_bag_table(ids, text_labels, nan_feature), b / "nan-features.parquet")
    conflict = [*text_labels[:2], "tumor" if text_labels[2] == "normal" else "normal"]
    pq.write_table(_bag_table(ids, conflict + text_labels[3:], feats), b / "conflict.parquet")
    sparse = [3 if i >= 30 else 0 for i in range(36)]  # 10 bags of 0, 2 bags of 3
    pq.write_table(_bag_table(ids, sparse, feats), b / "labels-0-3.parquet")
    pq.write_table(_bag_table(ids[:0], [], []), b / "no-rows.parquet")
    slides = [f"s{i}" for i in range(8)]
    _slides(b / "clam", slides, [names[i % 2] for i in range(8)], rng)
    _slides(b / "twice", ["s1", "s2"], ["a", "b"], rng)
    (b / "twice" / "labels.csv").write_text("slide_id,label\ns1,a\ns2,b\ns1,b\n")
    _slides(b / "corrupt", ["s1", "s2"], ["a", "b"], rng)
    (b / "corrupt" / "s2.h5").write_bytes(b"not hdf5 at all" * 4)
    _slides(b / "truncated", ["s1", "s2"], ["a", "b"], rng)
    data = (b / "truncated" / "s2.h5").read_bytes()
    (b / "truncated" / "s2.h5").write_bytes(data[: len(data) // 3])
    _slides(b / "no-features", ["s1", "s2"], ["a", "b"], rng, features="coords")
    _slides(b / "missing-slide", ["s1", "s2"], ["a", "b"], rng)
    (b / "missing-slide" / "s2.h5").unlink()
    _slides(b / "no-labels", ["s1", "s2"], ["a", "b"], rng)
    (b / "no-labels" / "labels.csv").unlink()
    api.mil_fit("musk1", b / "model", model="mean", epochs=2)


SUITE = '[[datasets]]\nname = "digits"\nlimit = 60\n[[encoders]]\nname = "raw-pixels"\n'


def bench_inputs(t: Path) -> None:
    """Suites for `headstart bench` (issue 27): malformed, unknown names, missing parts."""
    b = t / "suites"
    b.mkdir()
    (b / "malformed.toml").write_text(SUITE + "[tasks.knn\nks = [5]\n")
    (b / "unknown-dataset.toml").write_text(SUITE.replace('"digits"', '"digitz"') + "[tasks.knn]\n")
    (b / "no-tasks.toml").write_text(SUITE)
    (b / "bad-setting.toml").write_text(SUITE + "[tasks.knn]\nvariants = ['cosine']\n")
    (b / "unknown-key.toml").write_text(
        SUITE + "[tasks.knn]\n[[datasets]]\nname = 'digits'\nsize = 3\n"
    )
    (b / "bad-score.toml").write_text(SUITE + "[tasks.knn]\nscore = { metric = 'nmi' }\n")
    (b / "not-utf8.toml").write_bytes(b"name = '\xff\xfe'\n")


def robustness_inputs(t: Path) -> None:
    """Groups files, a text model and images for the robustness rows (issue 28)."""
    from headstart.store import Store

    ids = Store(t / "s").ids
    g = t / "groups"
    g.mkdir()
    (g / "missing.csv").write_text("id,site\n" + "".join(f"{i},a\n" for i in ids[:10]))
    (g / "unknown.csv").write_text("id,site\n" + "".join(f"{i},a\n" for i in ids) + "ghost,b\n")
    blank = "".join(f"{i},{'' if k == 3 else 'a'}\n" for k, i in enumerate(ids))
    (g / "blank.csv").write_text("id,site\n" + blank)
    (g / "no-attributes.csv").write_text("id\n" + "".join(f"{i}\n" for i in ids))
    api.fit(t / "text-store", "linear-probe", t / "models" / "text")
    _classes(t / "explain-img")


def slide_inputs(t: Path) -> None:
    """Generated slides (issue 29): a good pair, a folder mixing unusable files with a good
    slide, one with a corrupt tile; a bag store with labels, a model without attention."""
    import tifffile

    from headstart.slides.synthetic import SlideSpec, damage_tile, write_slide

    w = t / "wsi"
    for i in range(4):
        write_slide(w / "good" / f"g{i}.tiff", SlideSpec(1536, 1536, 0.5, i % 2 == 1, seed=i))
    (w / "mixed").mkdir(parents=True)
    write_slide(w / "mixed" / "good.tiff", SlideSpec(1536, 1536, 0.5, seed=3))
    write_slide(w / "mixed" / "nompp.tiff", SlideSpec(1536, 1536, None, seed=3))
    tifffile.imwrite(
        w / "mixed" / "blank.tiff",
        np.full((512, 512, 3), 242, np.uint8),
        tile=(256, 256),
        resolution=(2e4, 2e4),
        resolutionunit="CENTIMETER",
    )
    (w / "mixed" / "fake.svs").write_text("not a slide")
    write_slide(w / "corrupt" / "c.tiff", SlideSpec(1536, 1536, 0.5, seed=4))
    damage_tile(w / "corrupt" / "c.tiff", 1, 4)  # level 1: where 1 µm/px patches are read
    (w / "empty").mkdir()
    (w / "empty" / "notes.txt").write_text("no slides here")
    api.embed_slides(w / "good", "raw-pixels", w / "bags", size=64, mpp=1.0, progress=False)
    rows = "".join(f"g{i},{'ab'[i % 2]},p{i}\n" for i in range(4))
    (w / "labels.csv").write_text("slide_id,label,patient\n" + rows)
    (w / "ghost.csv").write_text("slide_id,label\ng0,a\nghost,b\n")
    (w / "mpp.csv").write_text("slide_id,mpp\nnompp,zero\n")
    api.mil_fit(str(w / "bags"), w / "mean", "mean", labels=w / "labels.csv", epochs=2)
    api.mil_fit(str(w / "bags"), w / "attention", "attention", labels=w / "labels.csv", epochs=2)
    api.mil_evaluate(
        str(w / "bags"),
        ("mean",),
        folds=2,
        repeats=1,
        epochs=2,
        out=w / "run",
        labels=str(w / "labels.csv"),
        progress=False,
    )


def build_inputs(t: Path) -> Path:
    """Every input of the fuzz table under `t` (about 10 s)."""
    api.embed("digits", "raw-pixels", t / "s", limit=200, progress=False)
    api.fit(t / "s", "prototype", t / "m")
    other = {"size": 28, "resize": "center-crop"}
    api.embed("digits", "raw-pixels", t / "o", limit=200, encoder_options=other, progress=False)
    (t / "file").write_text("")
    image_inputs(t)
    csv_inputs(t)
    vector_inputs(t)
    store_inputs(t)
    model_inputs(t)
    mil_inputs(t)
    bench_inputs(t)
    robustness_inputs(t)
    slide_inputs(t)
    return t
