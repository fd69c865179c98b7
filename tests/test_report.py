"""The HTML report, opened in a real headless Chromium: it loads, every figure renders, and
no script error or console error occurs."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from headstart import api
from headstart.heads import create_head
from headstart.protocol import evaluate_few_shot, learning_curve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 8)) * 2
    y_train, y_test = np.repeat(np.arange(3), 30), np.repeat(np.arange(3), 20)
    X_train = centers[y_train] + rng.normal(size=(90, 8))
    X_test = centers[y_test] + rng.normal(size=(60, 8))
    heads = {
        "gda": create_head("gda"),
        "prototype": create_head("prototype"),
        "zero-shot": create_head("zero-shot", class_embeddings=centers),  # a 0-shot row
    }
    folder = tmp_path_factory.mktemp("results")
    evaluate_few_shot(
        X_train,
        y_train,
        X_test,
        y_test,
        heads,
        shots=[0, 1, 4, "all"],
        seeds=4,
        dataset="blobs",
        encoder="none",
        class_names=["a", "b", "c"],
    ).save(folder / "grid")
    learning_curve(
        X_train, y_train, X_test, y_test, sizes=[1, 5, 20], repeats=3, class_names=["a", "b", "c"]
    ).save(folder / "curve")
    return folder


def test_report_is_one_self_contained_file(saved, tmp_path):
    path = api.report(saved / "grid", tmp_path / "report.html", saved / "curve", ("gda", "4"))
    text = path.read_text()
    assert text.count('<img class="figure"') == 4  # curves, confusion, reliability, NB vs LR
    assert "http://" not in text and "https://" not in text  # readable offline
    assert "gda at 4 shots" in text and "Provenance" in text


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="Debian chromium is installed by .ci/run",
)
def test_report_renders_in_headless_chromium(saved, tmp_path):
    assert CHROMIUM, "chromium must be installed (.ci/run installs Debian's chromium)"
    path = api.report(saved / "grid", tmp_path / "report.html", saved / "curve")
    run = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    body = re.search(r"<body([^>]*)>", run.stdout)
    assert body, run.stderr[-2000:]
    attributes = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attributes["figures"] == attributes["figures-ok"] == "4"
    assert attributes["errors"] == "0"
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console  # the page logs nothing, so any console line is a problem


def test_report_of_a_mil_cross_validation(tmp_path):
    from safetensors.numpy import load_file

    api.mil_evaluate(
        "musk1",
        ["mean", "attention"],
        ["none"],
        folds=3,
        repeats=1,
        out=tmp_path / "cv",
        epochs=3,
        progress=False,
    )
    text = api.report(tmp_path / "cv", tmp_path / "mil.html").read_text()
    assert "Cross-validated MIL models" in text and "balanced_accuracy" in text and "auc" in text
    assert "corrected resampled t (Nadeau &amp; Bengio 2003), test/train = 0.5" in text
    # metric bars + the attention of the first attention model on held-out bags
    assert text.count('<img class="figure"') == 2 and "Attention of attention" in text
    shown = load_file(str(tmp_path / "cv" / "attention.safetensors"))
    sums = np.add.reduceat(shown["attention"], shown["offsets"][:-1])
    np.testing.assert_allclose(sums, 1.0, atol=1e-5)  # a softmax within every bag
    assert len(shown["labels"]) == 6 and shown["labels"][:4].min() == 1  # positives first


def test_bag_attention_figure_draws_images_or_bars():
    from headstart.report.figures import bag_attention

    rng = np.random.default_rng(0)
    for dim in (784, 5):  # square grey images, then plain vectors
        arrays = {
            "instances": rng.random((7, dim)).astype(np.float32),
            "offsets": np.array([0, 4, 7]),
            "attention": np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.25, 0.25]),
            "marks": np.array([0, 0, 1, 1, -1, -1, -1]),
            "labels": np.array([1, 0]),
            "probability": np.array([0.9, 0.2]),
        }
        assert bag_attention(arrays, "test").startswith(b"\x89PNG")
