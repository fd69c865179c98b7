import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from headstart.cli import app

runner = CliRunner()


def test_listings():
    assert "fashion-mnist" in runner.invoke(app, ["datasets"]).output
    result = runner.invoke(app, ["encoders"])
    assert result.exit_code == 0 and "efficientnet-lite0" in result.output
    assert "1280" in result.output and "224 px" in result.output
    card = json.loads(runner.invoke(app, ["encoders", "--card", "mobilenetv2"]).output)
    assert card["output_dim"] == 1280 and len(card["weights_sha256"]) == 64
    assert card["mean"] == [0.485, 0.456, 0.406]


def test_embed_then_cache_hit_then_info(tmp_path):
    args = [
        "embed",
        "digits",
        "--encoder",
        "raw-pixels",
        "--limit",
        "30",
        "-o",
        str(tmp_path / "s"),
        "--quiet",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "embedded 30 items" in first.output
    second = runner.invoke(app, args)
    assert "cache hit: 30 vectors" in second.output
    info = runner.invoke(app, ["store", "info", str(tmp_path / "s"), "--json", "--verify"])
    data = json.loads(info.output)
    assert data["rows"] == 30 and data["dim"] == 784 and data["problems"] == []


def test_encoder_options_reach_the_encoder(tmp_path):
    result = runner.invoke(
        app,
        [
            "embed",
            "digits",
            "-e",
            "raw-pixels",
            "--limit",
            "5",
            "--encoder-option",
            "size=4",
            "-o",
            str(tmp_path / "s"),
            "-q",
        ],
    )
    assert result.exit_code == 0 and "16-d" in result.output


def test_store_import(tmp_path):
    np.save(tmp_path / "v.npy", np.ones((7, 3), np.float32))
    result = runner.invoke(
        app, ["store", "import", str(tmp_path / "v.npy"), "-o", str(tmp_path / "s")]
    )
    assert result.exit_code == 0 and "imported 7 vectors of dimension 3" in result.output


def test_errors_are_one_clear_line_and_exit_code_2(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "headstart.cli",
            "embed",
            "digits",
            "-e",
            "mobilenet",
            "-q",
            "-o",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "unknown encoder 'mobilenet'" in result.stderr and "mobilenetv2" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists()


def test_fit_predict_eval_round_trip(tmp_path):
    from PIL import Image

    for label, value in (("dark", 20), ("light", 230)):
        for i in range(6):
            folder = tmp_path / "images" / label
            folder.mkdir(parents=True, exist_ok=True)
            Image.new("L", (10, 10), value + i).save(folder / f"{i}.png")
    store, model = tmp_path / "store", tmp_path / "model"
    assert (
        runner.invoke(
            app,
            [
                "embed",
                str(tmp_path / "images"),
                "-e",
                "raw-pixels",
                "-o",
                str(store),
                "-q",
                "--encoder-option",
                "size=4",
            ],
        ).exit_code
        == 0
    )
    fitted = runner.invoke(
        app,
        ["fit", str(store), "--head", "prototype", "-o", str(model), "--param", "metric=euclidean"],
    )
    assert fitted.exit_code == 0, fitted.output
    assert json.loads((model / "model.json").read_text())["params"]["metric"] == "euclidean"
    # predicting on the image folder rebuilds the store's encoder from its recipe
    out = tmp_path / "p.csv"
    result = runner.invoke(
        app, ["predict", str(model), str(tmp_path / "images"), "-o", str(out), "--top-k", "2", "-q"]
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "id,class_1,prob_1,class_2,prob_2" and len(lines) == 13
    assert all(line.split(",")[1] == line.split("/")[0] for line in lines[1:])
    evaluated = runner.invoke(
        app,
        [
            "eval",
            str(store),
            "--heads",
            "gda,prototype",
            "--shots",
            "1,2",
            "--seeds",
            "3",
            "-o",
            str(tmp_path / "r"),
            "-q",
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "2-shot" in evaluated.output and (tmp_path / "r" / "rows.parquet").exists()


def test_embed_with_views_and_its_bad_input(tmp_path):
    """`--views N` stores augmented views and says so in `store info`; `--views` on texts
    and `views=0` are clear errors (DataError: one line, exit code 2, from `main`), with
    nothing written (`--views 0` is refused while parsing)."""
    from headstart.exceptions import DataError

    args = ["embed", "digits", "-e", "raw-pixels", "--limit", "20", "-q"]
    result = runner.invoke(app, [*args, "--views", "3", "-o", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    info = json.loads(runner.invoke(app, ["store", "info", str(tmp_path / "v"), "--json"]).output)
    assert info["views"]["views"] == 3 and info["view_rows"] == 40
    from headstart import api

    with pytest.raises(DataError, match="views must be at least 1"):
        api.embed("digits", "raw-pixels", tmp_path / "zero", limit=20, views=0)
    assert not (tmp_path / "zero").exists()
    csv = tmp_path / "notes.csv"
    csv.write_text("text,label\na cat,cat\na dog,dog\n")
    text = runner.invoke(
        app, ["embed", str(csv), "-e", "minilm", "--views", "3", "-q", "-o", str(tmp_path / "t")]
    )
    assert isinstance(text.exception, DataError)
    assert "--views needs an image dataset" in str(text.exception)
    assert not (tmp_path / "t").exists()


def test_counts_out_of_range_are_refused_before_any_work(tmp_path):
    """`--batch-size -1` once wrote a complete store of 0 rows (a poisoned cache); every
    count option now has a lower bound, checked while parsing."""
    from headstart.datasets import load_dataset
    from headstart.embedding import embed_dataset
    from headstart.encoders import create_encoder
    from headstart.exceptions import DataError

    store = str(tmp_path / "s")
    cases = [
        ["embed", "digits", "-e", "raw-pixels", "-o", store, "--batch-size", "-1"],
        ["embed", "digits", "-e", "raw-pixels", "-o", store, "--limit", "0"],
        ["embed", "digits", "-e", "raw-pixels", "-o", store, "--threads", "0"],
        ["embed", "digits", "-e", "raw-pixels", "-o", store, "--views", "0"],
        ["eval", store, "--seeds", "0"],
        ["predict", store, store, "--top-k", "0"],
        ["mil", "eval", "musk1", "--folds", "1"],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Invalid value" in result.output, (args, result.output)
    assert not (tmp_path / "s").exists()
    with pytest.raises(DataError, match="batch_size must be a positive number, got -4"):
        embed_dataset(load_dataset("digits"), create_encoder("raw-pixels"), store, batch_size=-4)


def test_eval_that_would_print_an_empty_table_says_why(tmp_path):
    """`eval --shots 0 --heads linear-probe` printed an empty table and exited 0, and
    `--metric acc` a table of dashes; both are refused before any work now."""
    store = tmp_path / "s"
    runner.invoke(app, ["embed", "digits", "-e", "raw-pixels", "--limit", "60", "-q", "-o", store])
    command = [sys.executable, "-m", "headstart.cli", "eval", str(store), "--shots", "0"]
    empty = subprocess.run(
        [*command, "--heads", "linear-probe", "-o", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert empty.returncode == 2 and "Traceback" not in empty.stderr
    assert "no head among ['linear-probe'] has a result at shots ['0']" in empty.stderr
    metric = runner.invoke(app, ["eval", str(store), "--metric", "acc"])
    flat = " ".join(metric.output.replace("│", " ").split())  # rich boxes and wraps the line
    assert metric.exit_code == 2 and "did you mean 'accuracy'?" in flat
    assert not (tmp_path / "r").exists()


def test_a_long_run_without_a_terminal_prints_progress_lines(tmp_path):
    """Issue 25 #16: `eval --seeds 1000` piped to a file printed nothing for minutes (a live
    bar draws only on a terminal); each tenth of the work is now one line on stderr."""
    store = tmp_path / "s"
    runner.invoke(app, ["embed", "digits", "-e", "raw-pixels", "--limit", "60", "-q", "-o", store])
    command = [sys.executable, "-m", "headstart.cli", "eval", str(store), "--heads", "prototype"]
    piped = subprocess.run(
        [*command, "--shots", "1", "--seeds", "40", "-o", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert piped.returncode == 0, piped.stderr
    lines = [line for line in piped.stderr.splitlines() if line.startswith("few-shot: ")]
    assert lines[0].startswith("few-shot: 4/40 (10%)") and len(lines) == 10
    assert lines[-1].startswith("few-shot: 40/40 (100%)")


@pytest.mark.slow  # over 30 s on 2 cores: make test-fast skips it
def test_ctrl_c_during_embed_says_the_store_resumes(tmp_path):
    """Issue 25 #16: SIGINT during embed exited without a word on what was kept."""
    import json
    import signal
    import time

    store = tmp_path / "s"
    command = [sys.executable, "-m", "headstart.cli", "embed", "digits", "-e", "efficientnet-lite0"]
    process = subprocess.Popen(
        [
            *command,
            "--limit",
            "300",
            "--shard-size",
            "16",
            "--batch-size",
            "16",
            "-q",
            "-o",
            str(store),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a suite started in the background (`make test &`) ignores SIGINT, and children
        # inherit that: give the child Ctrl-C's default, as a terminal would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300  # generous: a loaded machine embeds slowly
    while time.time() < deadline and process.poll() is None:
        manifest = store / "manifest.json"
        if manifest.exists() and json.loads(manifest.read_text())["shards"]:
            process.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "interrupted: the shards finished so far are kept" in out + err
    assert "Traceback" not in out + err
    again = [*command[3:], "--limit", "300", "--shard-size", "16", "-q", "-o", store]
    resumed = runner.invoke(app, again)
    assert resumed.exit_code == 0 and "cache hit" not in resumed.output


def test_a_store_too_small_for_a_holdout_is_a_clear_error(tmp_path):
    """30 digits in 10 classes and no split: the 30% holdout's 9 test rows cannot hold one
    of each class; scikit-learn's ValueError escaped as a traceback before."""
    from headstart import api
    from headstart.exceptions import DataError

    store = tmp_path / "s"
    api.embed("digits", "raw-pixels", store, limit=30, progress=False)
    with pytest.raises(DataError, match="9 test rows cannot hold one row of each of 10"):
        api.evaluate(store, ["prototype"], shots=(1,), seeds=1, progress=False)


def test_predict_refuses_features_from_another_encoder(tmp_path):
    """A model fitted on one encoder's features predicted confidently on another's (8 of 8
    flipped at p = 1.0); now refused unless asked for, and a wrong width is a clear error."""
    from headstart import api
    from headstart.exceptions import DataError

    squash = {"size": 16, "resize": "squash"}
    crop = {"size": 16, "resize": "center-crop"}
    kwargs = {"limit": 60, "progress": False}
    fitted = api.embed("digits", "raw-pixels", tmp_path / "a", encoder_options=squash, **kwargs)
    other = api.embed("digits", "raw-pixels", tmp_path / "b", encoder_options=crop, **kwargs)
    wide = api.embed("digits", "raw-pixels", tmp_path / "c", encoder_options={"size": 8}, **kwargs)
    model = api.fit(fitted.store.root, "prototype", tmp_path / "model")
    assert len(api.predict(model, fitted.store.root, progress=False)) == 60
    with pytest.raises(DataError, match=r"fitted on 'raw-pixels' features .* differ: resize"):
        api.predict(model, other.store.root, progress=False)
    rows = api.predict(model, other.store.root, progress=False, allow_other_encoder=True)
    assert len(rows) == 60
    with pytest.raises(DataError, match="takes 256-d features; these are 64-d"):
        api.predict(model, wide.store.root, progress=False, allow_other_encoder=True)


def test_predict_names_the_inputs_it_skipped(tmp_path):
    """`predict` on a folder with broken files printed "wrote 19 predictions" for 26
    inputs; now the count and a file of reasons say which were skipped."""
    from conftest import image_folder

    from headstart import api

    image_folder(tmp_path / "images", per_class=3)
    store = api.embed(str(tmp_path / "images"), "raw-pixels", tmp_path / "s", progress=False)
    model = api.fit(store.store.root, "prototype", tmp_path / "model")
    (tmp_path / "images" / "cat" / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["predict", str(model), str(tmp_path / "images"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 6 predictions" in result.output and "1 input(s) skipped" in result.output
    skipped = (tmp_path / "p.csv.skipped.csv").read_text()
    assert "cat/broken.png" in skipped and "not a recognised image file" in skipped


def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path):
    """`--out` under /proc, in a read-only place or below a file, and `report` on a folder
    without results: one clear line each (they were tracebacks, some after the work)."""
    from headstart import api
    from headstart.exceptions import DataError

    with pytest.raises(DataError, match="store folder /proc/x is on a system pseudo-filesystem"):
        api.embed("digits", "raw-pixels", "/proc/x", limit=20, progress=False)
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="is a file, not a folder"):
        api.evaluate(tmp_path / "s", ["prototype"], out=tmp_path / "file" / "r")
    with pytest.raises(DataError, match=r"holds no saved results \(missing rows\.parquet"):
        api.report(tmp_path / "nothing", tmp_path / "r.html")
    result = subprocess.run(
        [sys.executable, "-m", "headstart.cli", "report", str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_unknown_options_and_bad_option_values_are_named(tmp_path):
    """Unknown --encoder-option/--dataset-option/--param keys, precision=fp8 and --device
    cuda on a CPU-only torch were tracebacks (TypeError, ValueError, AssertionError)."""
    import torch

    from headstart import api
    from headstart.exceptions import DataError

    out = tmp_path / "s"
    with pytest.raises(DataError, match=r"no option 'sise' \(did you mean 'size'\?\); it takes"):
        api.embed("digits", "raw-pixels", out, encoder_options={"sise": 16})
    with pytest.raises(DataError, match="dataset 'digits' has no option 'foo'"):
        api.embed("digits", "raw-pixels", out, dataset_options={"foo": 1})
    with pytest.raises(DataError, match="precision must be one of"):
        api.embed("digits", "efficientnet-lite0", out, encoder_options={"precision": "fp8"})
    if not torch.cuda.is_available():
        with pytest.raises(DataError, match="no CUDA device"):
            api.embed("digits", "efficientnet-lite0", out, encoder_options={"device": "cuda"})
    store = api.embed("digits", "raw-pixels", out, limit=60, progress=False).store
    with pytest.raises(DataError, match="head 'prototype' has no option 'foo'"):
        api.fit(store.root, "prototype", tmp_path / "m", params={"foo": 1})


def test_eval_grid_fits_80_columns_and_json_is_for_scripts(tmp_path):
    """Issue 12: at 80 columns each interval wrapped over three lines. The grid now uses
    compact cells (percent ± half-width) when full intervals do not fit, full ones when they
    do; --json prints the best heads and the summary and nothing else."""
    from rich.console import Console

    from headstart import api

    store = api.embed("digits", "raw-pixels", tmp_path / "s", limit=300, progress=False).store
    heads = ["linear-probe", "gda", "gaussian-nb", "prototype", "knn", "linear-svm"]
    results = api.evaluate(store.root, heads, [1, 2, 4, 8, 16, "all"], 3, progress=False)
    for width in (80, 200):
        console = Console(width=width, record=True)
        for table in api.grid_tables(results, "accuracy", "title", width):
            console.print(table)
        lines = console.export_text().splitlines()
        assert max(map(len, lines)) <= width
        rows = [line for line in lines if line.strip().startswith(tuple(heads))]
        assert len(rows) == len(heads)  # one line per head: nothing wrapped
        assert ("±" in rows[0]) == (width == 80) and ("[" in rows[0]) == (width == 200)
    command = ["eval", str(store.root), "--heads", "gda,prototype", "--shots", "1,4"]
    as_json = CliRunner().invoke(
        app, [*command, "--seeds", "3", "-q", "--json", "-o", str(tmp_path)]
    )
    assert as_json.exit_code == 0, as_json.output
    summary = json.loads(as_json.stdout)
    assert [b["shots"] for b in summary["best"]] == ["1", "4"]
    assert {b["head"] for b in summary["best"]} <= {"gda", "prototype"}
