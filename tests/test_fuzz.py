"""Bad inputs through the command line, as a user types them (issue 11): each row is the
arguments and a fragment of the one-line error expected, with exit code 2 and no traceback.
Files are made in the test's folder; `{s}` is a small digits store, `{m}` a model fitted on
it, `{t}` the temporary folder."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import image_folder

from headstart import api
from headstart.cli import main

CASES = [
    # option ranges and choices, refused while parsing
    ("batch-size", "embed digits -e raw-pixels -o {t}/x --batch-size -1", "Invalid value"),
    ("limit-0", "embed digits -e raw-pixels -o {t}/x --limit 0", "Invalid value"),
    ("threads-0", "embed digits -e raw-pixels -o {t}/x --threads 0", "Invalid value"),
    ("workers-0", "embed digits -e raw-pixels -o {t}/x --workers 0", "Invalid value"),
    ("shard-size-0", "embed digits -e raw-pixels -o {t}/x --shard-size 0", "Invalid value"),
    ("views-0", "embed digits -e raw-pixels -o {t}/x --views 0", "Invalid value"),
    ("seeds-0", "eval {s} --seeds 0", "Invalid value"),
    ("top-k-0", "predict {m} {s} --top-k 0", "Invalid value"),
    ("metric", "eval {s} --metric acc", "did you mean 'accuracy'"),
    ("shots-policy", "eval {s} --shots-policy some", "is not one of error, up-to, drop"),
    ("shots", "eval {s} --shots 1,-2", "integers ≥ 0 or 'all'"),
    ("mil-folds-1", "mil eval --dataset musk1 --folds 1", "Invalid value"),
    # names and options
    ("encoder", "embed digits -e mobilenet -o {t}/x", "Did you mean 'mobilenetv2'"),
    ("dataset", "embed digitz -e raw-pixels -o {t}/x", "unknown dataset 'digitz'"),
    (
        "encoder-option",
        "embed digits -e raw-pixels -o {t}/x --encoder-option sise=8",
        "did you mean 'size'",
    ),
    (
        "dataset-option",
        "embed digits -e raw-pixels -o {t}/x --dataset-option foo=1",
        "has no option 'foo'",
    ),
    (
        "precision",
        "embed digits -e efficientnet-lite0 -o {t}/x --encoder-option precision=fp8",
        "precision must be one of",
    ),
    ("head", "eval {s} --heads protoype", "Did you mean 'prototype'"),
    ("param", "fit {s} --head prototype -o {t}/m2 --param foo=1", "has no option 'foo'"),
    # outputs
    ("out-proc", "embed digits -e raw-pixels -o /proc/x", "system pseudo-filesystem"),
    (
        "out-under-file",
        "eval {s} --shots 1 --heads prototype -o {t}/file/r",
        "is a file, not a folder",
    ),
    ("report-missing", "report {t}/nothing -o {t}/r.html", "holds no saved results"),
    # evaluations that would print nothing
    (
        "no-head-runs",
        "eval {s} --shots 0 --heads linear-probe -o {t}/r",
        "no head among ['linear-probe'] has a result",
    ),
    (
        "short-classes",
        "eval {s} --shots 50 --heads prototype -o {t}/r",
        "fewer training items than the shots",
    ),
    # stores and models
    ("not-a-store", "store info {t}", "not a headstart store"),
    ("not-a-model", "predict {t} {s}", "not a saved headstart model"),
    ("other-encoder", "predict {m} {o}", "was fitted on 'raw-pixels' features"),
    ("images-empty-class", "embed {t}/images -e raw-pixels -o {t}/x", "hold no image files"),
    ("csv-fields", "embed {t}/bad.csv -e raw-pixels -o {t}/x", "3 fields, the header has 2"),
    ("import-complex", "store import {t}/complex.npy -o {t}/x", "vectors are complex"),
    ("import-pickle", "store import {t}/pickle.parquet -o {t}/x", "not a readable Parquet"),
    ("import-missing", "store import {t}/none.npy -o {t}/x", "does not exist"),
    ("import-type", "store import {t}/bad.csv -o {t}/x", "unsupported file type"),
    ("import-strings", "store import {t}/strings.parquet -o {t}/x", "is string"),
    ("import-nan", "store import {t}/nan.npy -o {t}/x", "is nan"),
    ("eval-not-a-store", "eval {t}/nothing", "not a headstart store"),
    ("transform", "eval {s} --transforms whiten", "unknown transform"),
    ("fit-under-file", "fit {s} --head gda -o {t}/file/m", "is a file, not a folder"),
    ("report-on-store", "report {s}", "holds no saved results"),
    ("curve-not-a-store", "learning-curve {t}/nothing", "not a headstart store"),
    ("no-text-side", "eval {s} --heads zero-shot --shots 0", "has no text side"),
    ("mil-unknown-set", "mil eval --dataset musk3", "unknown bag set 'musk3'"),
    ("mil-null-bag", "mil eval --dataset {t}/null.parquet", "row 1 has no 'bag'"),
    ("mil-twice", "mil eval --dataset {t}/slides", "is listed again"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    t = tmp_path_factory.mktemp("fuzz")
    store = api.embed("digits", "raw-pixels", t / "s", limit=200, progress=False).store
    api.fit(store.root, "prototype", t / "m")
    other = {"size": 28, "resize": "center-crop"}
    api.embed("digits", "raw-pixels", t / "o", limit=200, encoder_options=other, progress=False)
    (t / "file").write_text("")
    image_folder(t / "images", per_class=2)
    (t / "images" / "emu").mkdir()
    (t / "bad.csv").write_text("path,label\na.png,cat,extra\n")
    np.save(t / "complex.npy", np.ones((3, 2), np.complex64))
    (t / "pickle.parquet").write_bytes(b"\x80\x04\x95\x10\x00.pickled")
    pq.write_table(pa.table({"vector": ["1,2", "3,4"]}), t / "strings.parquet")
    np.save(t / "nan.npy", np.array([[1.0, np.nan]], np.float32))
    bags = {"bag": ["a", None], "label": [0, 1], "features": [[0.0], [1.0]]}
    pq.write_table(pa.table(bags), t / "null.parquet")
    (t / "slides").mkdir()
    for slide in ("s1", "s2"):
        with h5py.File(t / "slides" / f"{slide}.h5", "w") as h5:
            h5["features"] = np.ones((3, 4), np.float32)
    (t / "slides" / "labels.csv").write_text("slide_id,label\ns1,a\ns2,b\ns1,b\n")
    return t


@pytest.mark.parametrize(("args", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_input_is_one_clear_line(folder, args, message, monkeypatch, capsys):
    names = {"t": folder, "s": folder / "s", "m": folder / "m", "o": folder / "o"}
    monkeypatch.setattr(sys, "argv", ["headstart", *args.format(**names).split()])
    with pytest.raises(SystemExit) as exit_:
        main()
    captured = capsys.readouterr()
    output = " ".join((captured.out + captured.err).split())  # rich wraps long lines
    assert exit_.value.code == 2, output
    assert message in output, output
    assert "Traceback" not in output
