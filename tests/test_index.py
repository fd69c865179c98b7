"""The vector index: exact search equals brute force, the approximate index reaches its
recall target, saved indexes are checked, and bad queries are named."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import image_folder
from typer.testing import CliRunner

from headstart import api
from headstart.cli import app
from headstart.exceptions import DataError, StoreError, UnknownNameError
from headstart.index import VectorIndex, exact_neighbours, load_index, plan_index, recall_at
from headstart.vector_index import unit_rows

pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def pixel_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("index")
    folder = image_folder(root / "img", per_class=12)
    return api.embed(str(folder), "raw-pixels", root / "store", progress=False).store


def clustered(n: int, dim: int, centres: int, seed: int) -> np.ndarray:
    """Unit vectors around `centres` random directions: the structure real embeddings have."""
    rng = np.random.default_rng(seed)
    means = unit_rows(rng.standard_normal((centres, dim)))
    picks = np.random.default_rng(seed + 1).integers(0, centres, n)
    return unit_rows(means[picks] + 0.08 * rng.standard_normal((n, dim))).astype(np.float32)


def test_the_exact_index_equals_brute_force(pixel_store, tmp_path):
    built = api.build_index(pixel_store.root, tmp_path / "ix")
    assert built.meta["plan"]["kind"] == "flat" and built.meta["plan"]["measured_recall"] == 1.0
    queries = np.random.default_rng(0).standard_normal((5, pixel_store.dim)).astype(np.float32)
    np.save(tmp_path / "q.npy", queries)
    rows = api.search_index(tmp_path / "ix", k=4, vectors=tmp_path / "q.npy")
    unit = unit_rows(pixel_store.vectors())
    cosine = unit_rows(queries) @ unit.T
    expected = np.argsort(-cosine, axis=1)[:, :4]
    ids = np.asarray(pixel_store.ids)
    assert [r["id"] for r in rows] == list(ids[expected].ravel())
    np.testing.assert_allclose(
        [r["score"] for r in rows], np.take_along_axis(cosine, expected, 1).ravel(), atol=1e-5
    )
    assert {r["label"] for r in rows} <= {"cat", "dog"}


def test_an_image_query_finds_itself_through_the_stores_encoder(pixel_store, tmp_path):
    api.build_index(pixel_store.root, tmp_path / "ix")
    item = str(pixel_store.root.parent / "img" / "dog" / "3.png")
    rows = api.search_index(tmp_path / "ix", [item], k=3)
    assert rows[0]["id"].endswith("dog/3.png") and rows[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert [r["rank"] for r in rows] == [1, 2, 3]


def test_the_approximate_index_reaches_its_recall_on_a_100k_store():
    vectors = clustered(100_000, 64, 2_000, seed=0)
    index = VectorIndex.build(vectors, [str(i) for i in range(len(vectors))], np.zeros(100_000))
    plan = index.meta["plan"]
    assert plan["kind"] == "ivf" and plan["measured_recall"] >= 0.95
    queries = clustered(100_300, 64, 2_000, seed=0)[100_000:]  # same mixture, not store rows
    truth = exact_neighbours(vectors, queries, 10)
    _, found = index.search(queries, 10)
    assert recall_at(found, truth) >= 0.95
    assert plan["depth"] < plan["lists"]  # it did not fall back to probing every cell


def test_the_kind_follows_the_size():
    assert plan_index(1_000)["kind"] == "flat"
    assert plan_index(1_000_000) == {"kind": "ivf", "lists": 4096, "depth": 8}
    assert plan_index(1_000, "hnsw")["kind"] == "hnsw"
    with pytest.raises(UnknownNameError, match="annoy"):
        plan_index(10, "annoy")


def test_hnsw_searches_like_brute_force_on_a_small_store():
    vectors = clustered(3_000, 32, 50, seed=3)
    index = VectorIndex.build(vectors, [str(i) for i in range(3_000)], np.zeros(3_000), kind="hnsw")
    queries = clustered(3_100, 32, 50, seed=3)[3_000:]
    assert recall_at(index.search(queries, 10)[1], exact_neighbours(vectors, queries, 10)) > 0.9


def test_a_saved_index_round_trips_and_a_changed_one_is_refused(pixel_store, tmp_path):
    built = api.build_index(pixel_store.root, tmp_path / "ix")
    again = load_index(tmp_path / "ix")
    assert again.ids == built.ids and again.meta["store_key"] == pixel_store.key
    with pytest.raises(DataError, match="exists already"):
        api.build_index(pixel_store.root, tmp_path / "ix")
    with open(tmp_path / "ix" / "index.faiss", "r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(StoreError, match=r"index.faiss does not match the sha256"):
        load_index(tmp_path / "ix")
    with pytest.raises(StoreError, match="not a headstart index"):
        load_index(pixel_store.root)


def test_bad_queries_are_named(pixel_store, tmp_path):
    api.build_index(pixel_store.root, tmp_path / "ix")
    np.save(tmp_path / "wide.npy", np.ones((2, pixel_store.dim + 3), np.float32))
    with pytest.raises(DataError, match=rf"queries are {pixel_store.dim + 3}-d but the index"):
        api.search_index(tmp_path / "ix", vectors=tmp_path / "wide.npy")
    with pytest.raises(DataError, match=r"holds image vectors; query 1 .'a red shoe'. is not"):
        api.search_index(tmp_path / "ix", ["a red shoe"])
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"broken.png: not a recognised image file"):
        api.search_index(tmp_path / "ix", [str(tmp_path / "broken.png")])
    with pytest.raises(DataError, match="nothing to search for"):
        api.search_index(tmp_path / "ix")
    text_index = load_index(tmp_path / "ix")
    text_index.meta["encoder"] = text_index.meta["encoder"] | {"modality": "text"}
    image = str(pixel_store.root.parent / "img" / "cat" / "0.png")
    with pytest.raises(DataError, match=r"holds text vectors; query 1 .*0.png. is an image"):
        api.search_index(text_index, [image])


def test_without_faiss_the_extra_is_named(pixel_store, tmp_path, hide_module):
    hide_module("faiss")
    with pytest.raises(DataError, match=r"pip install 'headstart\[index\]'"):
        api.build_index(pixel_store.root, tmp_path / "ix")
    assert not (tmp_path / "ix").exists()


def test_the_cli_indexes_and_searches(pixel_store, tmp_path):
    runner = CliRunner()
    built = runner.invoke(app, ["index", str(pixel_store.root), "-o", str(tmp_path / "ix")])
    assert built.exit_code == 0, built.output
    assert "flat" in built.output and "recall@10 1.000" in built.output
    item = str(pixel_store.root.parent / "img" / "cat" / "5.png")
    found = runner.invoke(app, ["search", str(tmp_path / "ix"), item, "-k", "2"])
    assert found.exit_code == 0, found.output
    lines = found.output.strip().splitlines()
    assert lines[0] == "query,rank,id,label,score" and len(lines) == 3
    assert lines[1].split(",")[2].endswith("cat/5.png") and lines[1].split(",")[3] == "cat"


def test_the_knn_head_searches_a_large_support_set_through_the_index():
    from headstart.heads import create_head

    vectors = clustered(60_000, 32, 400, seed=5)
    labels = np.arange(60_000) % 400 // 40  # 10 classes of 40 clusters each
    queries = clustered(60_200, 32, 400, seed=5)[60_000:]
    exact = create_head("knn", search="exact").fit(vectors, labels)
    indexed = create_head("knn").fit(vectors, labels)  # auto: 60,000 > 50,000
    assert indexed._uses_index() and not exact._uses_index()
    agree = np.mean(indexed.predict(queries) == exact.predict(queries))
    assert agree >= 0.97
    with pytest.raises(ValueError, match="search must be one of"):
        create_head("knn", search="fast").fit(vectors[::40][:20], labels[::40][:20])


def test_a_store_searches_an_index_of_its_own_encoder_only(pixel_store, tmp_path):
    api.build_index(pixel_store.root, tmp_path / "ix")
    rows = api.search_index(tmp_path / "ix", k=1, vectors=pixel_store.root)
    assert [r["id"] for r in rows] == pixel_store.ids  # each row finds itself
    folder = pixel_store.root.parent / "img"
    small = api.embed(
        str(folder), "raw-pixels", tmp_path / "small", encoder_options={"size": 8}, progress=False
    ).store
    with pytest.raises(DataError, match=r"holds 64-d 'raw-pixels' vectors but the index holds 784"):
        api.search_index(tmp_path / "ix", vectors=small.root)
