"""The text modality: corpora, text CSVs, the MiniLM encoder and text stores."""

import numpy as np
import pytest

from headstart.datasets import ItemError, load_dataset
from headstart.datasets.text_corpora import read_tab
from headstart.embedding import embed_dataset
from headstart.encoders import create_encoder
from headstart.exceptions import DataError
from headstart.heads import create_head
from headstart.store import Store


@pytest.fixture(scope="module")
def minilm():
    return create_encoder("minilm")


def test_corpora_keep_their_official_splits():
    news = load_dataset("20newsgroups")
    assert news.modality == "text" and len(news.class_names) == 20
    assert (news.split == "train").sum() == 11_293 and (news.split == "test").sum() == 7_528
    assert "sci.space" in news.class_names and all(isinstance(t, str) for t in news.items[:50])
    r8 = load_dataset("reuters-r8")
    assert len(r8.class_names) == 8 and (r8.split == "test").sum() == 2_189
    assert len(load_dataset("reuters-r52").class_names) == 52


def test_bad_tab_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.tab"
    bad.write_text("Category\tText\nd\tstring\nclass\t\nearn\tfine text\nacq\n")
    with pytest.raises(DataError, match=r"bad.tab, line 5: expected 'category<TAB>text'"):
        read_tab(bad)
    (tmp_path / "wrong.tab").write_text("Label\tBody\n")
    with pytest.raises(DataError, match="is not 'Category<TAB>Text'"):
        read_tab(tmp_path / "wrong.tab")


def test_text_csv_reads_labels_and_reports_every_problem(tmp_path):
    good = tmp_path / "texts.csv"
    good.write_text('text,label,split\n"a rocket, to space",space,train\nstock prices,,test\n')
    data = load_dataset(str(good))  # the `text` column makes it a text CSV
    assert data.modality == "text" and data.items[0] == "a rocket, to space"
    assert data.class_names == ["space"] and data.labels.tolist() == [0, -1]
    assert data.split.tolist() == ["train", "test"]
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label,id,split\n,space,a,train\nok,space,a,valid\n")
    with pytest.raises(DataError) as error:
        load_dataset(str(bad))
    message = str(error.value)
    assert "line 3: split 'valid'" in message and "line 3: duplicate id 'a'" in message
    assert "empty text" not in message  # issue 25 #16: skipped by the encoder and listed


def test_minilm_puts_similar_texts_together(minilm):
    assert minilm.card.modality == "text" and minilm.card.output_dim == 384
    vectors = minilm.encode_text(
        ["a rocket launch into orbit", "the spacecraft reached orbit", "stock prices fell today"]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2
    with pytest.raises(ItemError, match="empty text"):
        minilm.prepare("   ")


@pytest.fixture(scope="module")
def r8_store(tmp_path_factory, minilm):
    data = load_dataset("reuters-r8").take(64, seed=1)
    folder = tmp_path_factory.mktemp("r8") / "store"
    embed_dataset(data, minilm, folder, progress=False)
    return folder


def test_zero_shot_eval_and_prompt_bounds_from_the_cli(r8_store, tmp_path):
    from typer.testing import CliRunner

    from headstart.cli import app
    from headstart.protocol import Results

    runner = CliRunner()
    out = tmp_path / "results"
    result = runner.invoke(
        app,
        [
            "eval",
            str(r8_store),
            "--heads",
            "zero-shot,tip-adapter,prototype",
            "--shots",
            "0,2",
            "--seeds",
            "2",
            "--templates",
            "{}|news about {}",
            "-o",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "zero-shot" in result.output
    rows = Results.load(out).rows
    zero = [r["value"] for r in rows if r["head"] == "zero-shot" and r["metric"] == "accuracy"]
    assert len(zero) == 1 and zero[0] > 0.3  # class names alone beat chance (0.125) on R8
    assert {str(r["shots"]) for r in rows if r["head"] == "prototype"} == {"2"}
    ranked = runner.invoke(app, ["prompts", str(r8_store), "--templates", "{}|news about {}"])
    assert ranked.exit_code == 0, ranked.output
    assert "bound" in ranked.output and "news about {}" in ranked.output


def test_text_store_and_head_on_r8(tmp_path, minilm):
    data = load_dataset("reuters-r8").take(48, seed=0)  # 48 per split, classes balanced
    data.items[3] = ""  # an unusable text is skipped and recorded, not fatal
    store_dir = tmp_path / "store"
    embed_dataset(data, minilm, store_dir)
    store = Store(store_dir)
    vectors = store.vectors()
    assert vectors.shape == (len(data) - 1, 384)
    assert store.failures[0]["reason"] == "empty text" and store.failures[0]["path"] == ""
    again = minilm.encode([data.items[i] for i in range(5) if i != 3])
    np.testing.assert_allclose(vectors[:4], again, atol=1e-5)
    train, labels = store.split == "train", store.labels
    head = create_head("prototype").fit(vectors[train], labels[train])
    accuracy = (head.predict(vectors[~train]) == labels[~train]).mean()
    assert accuracy > 0.6  # 8 classes: chance is 0.125


def test_descriptions_and_differential_descriptions_from_the_cli(r8_store, tmp_path):
    import json

    from typer.testing import CliRunner

    from headstart.cli import app
    from headstart.protocol import Results

    descriptions = tmp_path / "descriptions.json"
    descriptions.write_text(
        json.dumps(
            {
                "earn": ["reports quarterly earnings per share", "announces a dividend"],
                "acq": ["agrees to acquire a company", "completes a merger"],
            }
        )
    )
    differential = tmp_path / "differential.json"
    differential.write_text(
        json.dumps({"earn": {"acq": ["net profit per share"]}, "acq": {"earn": ["takeover bid"]}})
    )
    out = tmp_path / "results"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            str(r8_store),
            "--heads",
            "zero-shot,fudd",
            "--shots",
            "0",
            "--descriptions",
            str(descriptions),
            "--differential",
            str(differential),
            "-o",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    heads = {r["head"] for r in Results.load(out).rows}
    assert heads == {"zero-shot", "fudd"}
    bad = tmp_path / "bad.json"
    bad.write_text('{"earn": "not a list"}')
    failed = CliRunner().invoke(
        app,
        [
            "eval",
            str(r8_store),
            "--heads",
            "zero-shot",
            "--shots",
            "0",
            "--descriptions",
            str(bad),
            "-q",
        ],
    )
    assert isinstance(failed.exception, DataError)  # main() turns it into exit code 2
    assert "must map to a list of strings" in str(failed.exception)
