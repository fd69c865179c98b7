"""The HTML report, opened in a real headless Chromium: it loads, every figure renders, and
no script error or console error occurs."""

import os
import re
import shutil

import numpy as np
import pytest

from headstart import api
from headstart.heads import create_head
from headstart.protocol import evaluate_few_shot
from headstart.protocol.learning_curve import learning_curve

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
        X_train,
        y_train,
        X_test,
        y_test,
        sizes=[1, 5, 20],
        repeats=3,
        class_names=["a", "b", "c"],
        dataset="blobs",
        encoder="none",
    ).save(folder / "curve")
    return folder


def test_report_is_one_self_contained_file(saved, tmp_path):
    path = api.report(saved / "grid", tmp_path / "report.html", saved / "curve", ("gda", "4"))
    text = path.read_text()
    # few-shot panels, difference map, NB vs LR; confusion and reliability are drawn in-page
    assert text.count("<img class='figure'") == 3
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text  # readable offline
    assert "Summary: which head at which label budget" in text and "Provenance" in text
    assert "<option value='gda' selected>" in text  # the selector opens on the chosen cell


def _open(page, path, errors):
    page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="Debian chromium is installed by .ci/run",
)
def test_report_renders_in_headless_chromium(saved, tmp_path):
    """Issue 12's acceptance, through the DOM of the system Chromium: a best head named for
    every shot level, every figure drawn with a caption naming its store, the selector
    redraws the confusion matrix, no console output; screenshots of the top at 1280×800."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium must be installed (.ci/run installs Debian's chromium)"
    path = api.report(saved / "grid", tmp_path / "report.html", saved / "curve")
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        _open(page, path, errors)
        page.screenshot(path=tmp_path / "top.png")
        verdicts = page.locator("ul.verdicts li").all_inner_texts()
        levels = ["zero-shot", "1 shot", "4 shots", "all labels"]
        assert len(verdicts) == len(levels)
        for level, text in zip(levels, verdicts, strict=True):
            assert re.match(rf"At {level}, \S+ is best \(accuracy [01]\.\d{{3}}", text), text
        store = page.locator("section.store").first.get_attribute("data-store")
        assert store == "blobs · none"
        figures = page.locator("figure")
        assert figures.count() == 4  # panels, difference map, the drawn pair, NB vs LR
        for i in range(figures.count()):
            figure = figures.nth(i)
            box = figure.bounding_box()
            assert box and box["width"] > 50 and box["height"] > 50
            assert store in figure.locator("figcaption").inner_text()
        for image in page.locator("img.figure").all():
            assert image.evaluate("i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0")
        section = page.locator("section.store").first
        before = section.locator("svg.confusion").inner_html()
        shown = section.get_attribute("data-shown")
        section.locator("select.head").select_option("prototype")
        section.locator("select.shots").select_option("1")
        assert section.get_attribute("data-shown") == "prototype|1" != shown
        assert section.locator("svg.confusion").inner_html() != before
        assert "prototype, 1 shot" in section.locator("figcaption.selected").inner_text()
        assert section.locator("svg.confusion rect").count() == 9  # 3 × 3 classes
        page.set_viewport_size({"width": 800, "height": 800})
        page.screenshot(path=tmp_path / "top-800.png")
        browser.close()
    assert (tmp_path / "top.png").stat().st_size > 10_000
    assert not errors, errors


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
    assert "Multiple-instance models, cross-validated on bags" in text
    assert "balanced_accuracy" in text and "auc" in text and "At cross-validation, " in text
    assert "corrected resampled t (Nadeau &amp; Bengio 2003), test/train = 0.5" in text
    # metric bars, the difference map, and the first attention model's held-out bags
    assert text.count("<img class='figure'") == 3 and "Attention of attention" in text
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


def test_report_of_an_open_set_evaluation(tmp_path):
    """Issue 13: panels per score, the difference map, and the best pair's histogram, ROC
    and accuracy–rejection curves."""
    from headstart.protocol.open_set import evaluate_open_set

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 8)) * 3
    y_train, y_test = np.repeat(np.arange(5), 12), np.repeat(np.arange(5), 10)
    X_train = centres[y_train] + rng.normal(size=(60, 8))
    X_test = centres[y_test] + rng.normal(size=(50, 8))
    heads = {"gda": create_head("gda")}
    evaluate_open_set(
        X_train, y_train, X_test, y_test, heads, ["mls", "knn"], [1, 4], 3, dataset="blobs"
    ).save(tmp_path / "open")
    text = api.report(tmp_path / "open", tmp_path / "open.html").read_text()
    assert "Open-set scores of heads fitted on" in text and "(40% of the classes" in text
    assert text.count("<img class='figure'") == 3 and "accuracy–rejection" in text
    assert "At 4 shots, " in text and "auroc" in text


def test_report_of_class_incremental_sessions(tmp_path):
    from headstart.protocol.incremental import evaluate_incremental

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(6, 8)) * 3
    y_train, y_test = np.repeat(np.arange(6), 12), np.repeat(np.arange(6), 8)
    X_train = centres[y_train] + rng.normal(size=(72, 8))
    X_test = centres[y_test] + rng.normal(size=(48, 8))
    heads = {"teen": create_head("teen"), "prototype": create_head("prototype")}
    evaluate_incremental(X_train, y_train, X_test, y_test, heads, "2:2:3", 3, dataset="blobs").save(
        tmp_path / "sessions"
    )
    text = api.report(tmp_path / "sessions", tmp_path / "s.html").read_text()
    assert "Classes added in sessions" in text and "2 sessions of 2 new classes" in text
    assert "At session 2, " in text and "<img class='figure'" in text


def test_report_names_the_methods_that_differ_from_their_papers():
    """Issue 24: a report lists each method it used whose registry entry declares a variant
    (here MoCHi's sizes, as the adaptation loss of a base → novel run) and no other."""
    from headstart.protocol import Results
    from headstart.report.html import render_report
    from headstart.report.methods import method_variants

    results = Results(provenance={"dataset": "blobs", "adapt": {"settings": {"loss": "mochi"}}})
    for seed in range(2):
        results.add("prototype", 4, seed, {"accuracy": 0.5 + seed / 10})
        results.add("prototype+adapted", 4, seed, {"accuracy": 0.4 + seed / 10})
    found = method_variants(results)
    assert [(r["kind"], r["name"]) for r in found] == [("adaptation loss", "mochi")]
    assert "momentum keys" in found[0]["variant"]
    text = render_report(results)
    assert "Methods that differ from their papers" in text and "MoCHi(256, 128, 64)" in text
    plain = Results(provenance={"dataset": "blobs"})
    plain.add("prototype", 4, 0, {"accuracy": 0.5})
    assert method_variants(plain) == [] and "differ from their papers" not in render_report(plain)
