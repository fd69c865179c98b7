"""The prediction service: every endpoint and error code through FastAPI's TestClient,
micro-batching, the token and CORS switches."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import served_folders
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from headstart import api
from headstart.api.serving import ServedIndex, ServedModel, load_served
from headstart.exceptions import DataError
from headstart.service import ServiceSettings, create_app
from headstart.service.batcher import MicroBatcher


def service_folders(root: Path, per_class: int) -> Path:
    """An image model with a reject option (pets), a text model (news), and an index of the
    image store (pets-index): what the service tests serve."""
    root = served_folders(root, per_class=per_class)
    texts = root / "texts.csv"
    lines = [f"a rocket launch number {i},space" for i in range(6)]
    lines += [f"the stock market fell {i} points,money" for i in range(6)]
    texts.write_text("text,label\n" + "\n".join(lines) + "\n")
    text_store = api.embed(str(texts), "minilm", root / "text-store", progress=False).store
    api.fit(text_store.root, "prototype", root / "news")
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return service_folders(tmp_path_factory.mktemp("serve"), per_class=10)


def load_folders(folders: Path) -> tuple[dict, dict]:
    """The models and the index of `service_folders`, loaded as the service holds them."""
    models = load_served([folders / "pets", folders / "news"], ServedModel)
    return models, load_served([folders / "pets-index"], ServedIndex)


@pytest.fixture(scope="module")
def served(folders):
    return load_folders(folders)


def client_for(served, **settings) -> TestClient:
    models, indexes = served
    return TestClient(create_app(models, indexes, ServiceSettings(**settings)))


def png(seed: int, size: int = 12) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_health_models_and_docs(served):
    with client_for(served) as client:
        assert client.get("/healthz").json() == {"status": "ok", "models": 2, "indexes": 1}
        models = {m["name"]: m for m in client.get("/v1/models").json()}
        assert models["pets"]["classes"] == ["cat", "dog"] and models["pets"]["modality"] == "image"
        assert models["pets"]["reject"]["score"] == "msp" and models["news"]["reject"] is None
        assert models["news"]["inputs"] == ["vectors", "text"]
        assert models["pets"]["provenance"]["trained_rows"] == 20
        paths = client.get("/openapi.json").json()["paths"]
        served_paths = {"/v1/models/pets/predict", "/v1/models/news/predict"}
        assert served_paths | {"/v1/indexes/pets-index/search", "/healthz"} <= set(paths)
        assert client.get("/docs").status_code == 200


def test_images_are_predicted_with_the_reject_verdict(served, folders):
    own = (folders / "img" / "dog" / "4.png").read_bytes()
    files = [("files", ("dog4.png", own, "image/png")), ("files", ("new.png", png(9), "image/png"))]
    with client_for(served) as client:
        answer = client.post("/v1/models/pets/predict", files=files, data={"top_k": "2"})
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["results"]
    assert first["item"] == "dog4.png" and second["item"] == "new.png"
    assert first["top"][0]["label"] == "dog" and len(first["top"]) == 2
    assert sum(t["probability"] for t in first["top"]) == pytest.approx(1.0, abs=1e-5)
    assert first["score"]["name"] == "msp" and "threshold" in first
    assert first["unknown"] == (first["score"]["value"] > first["threshold"])
    assert first["prediction"] == ("unknown" if first["unknown"] else "dog")
    # the same rows as `headstart predict` on the stored vector of that image
    store = api.open_store(folders / "store")
    row = store.ids.index(next(i for i in store.ids if i.endswith("dog/4.png")))
    offline = ServedModel(folders / "pets").predict(store.vectors()[row : row + 1], ["x"], 2)
    assert offline[0]["top"] == first["top"]


def test_texts_and_vectors_are_predicted(served):
    with client_for(served) as client:
        texts = client.post("/v1/models/news/predict", json={"texts": ["rocket to the moon"]})
        assert texts.status_code == 200, texts.text
        assert texts.json()["results"][0]["prediction"] == "space"
        assert "unknown" not in texts.json()["results"][0]  # no reject option saved
        vector = np.full(784, 0.5).tolist()
        vectors = client.post("/v1/models/pets/predict", json={"vectors": [vector], "top_k": 1})
        assert vectors.status_code == 200 and len(vectors.json()["results"][0]["top"]) == 1


@pytest.mark.parametrize(
    ("request_kwargs", "code", "message"),
    [
        ({"json": {"vectors": [[0.1] * 5]}}, 422, "takes 784-d vectors; this one is 5-d"),
        ({"json": {"vectors": [[1e20] * 784]}}, 422, "less than or equal to 1000000"),
        ({"json": {"vectors": [[1.0, "x"]]}}, 422, "vectors[0][1]: input should be a valid number"),
        ({"json": {"texts": ["a cat"]}}, 422, 'takes a JSON object with "vectors"'),
        ({"json": {"pictures": []}}, 422, 'takes a JSON object with "vectors" (image files'),
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "not valid JSON",
        ),
        ({"content": b"a cat", "headers": {"content-type": "text/plain"}}, 415, "not text/plain"),
        (
            {"files": [("files", ("x.png", b"\x89PNG broken", "image/png"))]},
            422,
            "x.png: not a recognised image",
        ),
        ({"files": [("files", ("e.png", b"", "image/png"))]}, 422, "e.png: empty file"),
        (
            {"files": [("files", ("a.png", png(1), "image/png"))], "data": {"top_k": "9"}},
            422,
            "top_k: input should be less than or equal to 2, got '9'",
        ),
        ({"data": {"top_k": "1"}}, 415, "not application/x-www-form-urlencoded"),
    ],
)
def test_bad_requests_get_their_code_and_say_what_is_wrong(served, request_kwargs, code, message):
    with client_for(served) as client:
        answer = client.post("/v1/models/pets/predict", **request_kwargs)
        assert answer.status_code == code, answer.text
        assert message in answer.json()["detail"]
        assert client.get("/healthz").status_code == 200  # and it keeps serving


def test_limits_on_size_count_and_pixels(served):
    with client_for(served, max_upload_bytes=4_000, max_items=3, max_pixels=10_000) as client:
        big = client.post(
            "/v1/models/pets/predict", files=[("files", ("big.png", png(0, 60), "image/png"))]
        )
        assert big.status_code == 413 and "exceeds" in big.json()["detail"]
        many = client.post("/v1/models/news/predict", json={"texts": ["a"] * 4})
        assert many.status_code == 422 and "texts: at most 3 per request, got 4" in many.text
        bomb = client.post(
            "/v1/models/pets/predict", files=[("files", ("bomb.png", png(0, 101), "image/png"))]
        )
        assert bomb.status_code in (413, 422)
    wide = Image.new("L", (4_000, 3_000))  # 12 MP of zeros compress to a few kB
    buffer = io.BytesIO()
    wide.save(buffer, format="PNG")
    with client_for(served, max_pixels=10_000_000) as client:
        answer = client.post(
            "/v1/models/pets/predict",
            files=[("files", ("bomb.png", buffer.getvalue(), "image/png"))],
        )
        assert answer.status_code == 422, answer.text
        assert (
            "bomb.png" in answer.json()["detail"]
            and "decompression-bomb" in answer.json()["detail"]
        )


def test_unknown_names_are_404(served):
    with client_for(served) as client:
        model = client.post("/v1/models/horses/predict", json={"texts": ["x"]})
        assert (
            model.status_code == 404 and "no model named 'horses'; served: news, pets" in model.text
        )
        index = client.post("/v1/indexes/horses/search", json={"texts": ["x"]})
        assert index.status_code == 404


def test_the_token_guards_the_api_but_not_health_or_the_page(served):
    with client_for(served, token="s3cret") as client:
        assert client.get("/v1/models").status_code == 401
        wrong = client.get("/v1/models", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = client.get("/v1/models", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200
        assert client.get("/healthz").status_code == 200 and client.get("/").status_code == 200


def test_no_cors_unless_asked(served):
    origin = {"Origin": "http://elsewhere.example"}
    with client_for(served) as client:
        assert "access-control-allow-origin" not in client.get("/v1/models", headers=origin).headers
    with client_for(served, cors_origins=("http://elsewhere.example",)) as client:
        answer = client.get("/v1/models", headers=origin)
        assert answer.headers["access-control-allow-origin"] == "http://elsewhere.example"


def test_the_index_is_searched_by_upload_and_by_vector(served, folders):
    own = (folders / "img" / "cat" / "2.png").read_bytes()
    with client_for(served) as client:
        listed = client.get("/v1/indexes").json()
        assert listed[0]["name"] == "pets-index" and listed[0]["n"] == 20
        found = client.post(
            "/v1/indexes/pets-index/search",
            files=[("files", ("c.png", own, "image/png"))],
            data={"k": "3"},
        )
        assert found.status_code == 200, found.text
        rows = found.json()["neighbours"]
        assert len(rows) == 3 and rows[0]["id"].endswith("cat/2.png") and rows[0]["label"] == "cat"
        wrong = client.post("/v1/indexes/pets-index/search", json={"vectors": [[0.0] * 3]})
        assert wrong.status_code == 422 and "784-d" in wrong.json()["detail"]


def test_concurrent_requests_share_encoder_calls(served, folders):
    with client_for(served, max_wait_ms=200) as client:
        batcher = client.app.state.batchers["model 'pets'"]

        def one(seed: int) -> int:
            files = [("files", (f"{seed}.png", png(seed), "image/png"))]
            return client.post("/v1/models/pets/predict", files=files).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(one, range(8)))
        assert codes == [200] * 8
        assert batcher.items == 8 and batcher.batches < 8


def test_the_batcher_returns_each_request_its_own_rows():
    async def scenario(max_batch: int) -> tuple[list, MicroBatcher]:
        batcher = MicroBatcher(lambda items: np.asarray(items, float)[:, None], max_batch, 0.05)
        answers = await asyncio.gather(*(batcher.submit([i, 10 * i]) for i in range(6)))
        await batcher.close()
        return answers, batcher

    answers, batched = asyncio.run(scenario(32))
    for i, rows in enumerate(answers):
        np.testing.assert_array_equal(rows[:, 0], [i, 10 * i])
    assert batched.batches == 1 and batched.items == 12
    answers, single = asyncio.run(scenario(1))
    assert single.batches == 6 and [a[0, 0] for a in answers] == list(range(6))


def test_the_batcher_hands_errors_to_every_waiting_request():
    def fail(items):
        raise DataError("encoder fell over")

    async def scenario():
        batcher = MicroBatcher(fail, 8, 0.05)
        results = await asyncio.gather(
            batcher.submit([1]), batcher.submit([2]), return_exceptions=True
        )
        await batcher.close()
        return results

    assert all(isinstance(r, DataError) for r in asyncio.run(scenario()))


def test_two_folders_of_one_name_are_refused(folders, tmp_path):
    import shutil

    shutil.copytree(folders / "pets", tmp_path / "pets")
    with pytest.raises(DataError, match="two folders are named 'pets'"):
        load_served([folders / "pets", tmp_path / "pets"], ServedModel)


def test_a_model_and_an_index_may_share_a_name(served, folders, tmp_path):
    import shutil

    shutil.copytree(folders / "pets-index", tmp_path / "pets")
    models, _ = served
    app = create_app(models, load_served([tmp_path / "pets"], ServedIndex))
    image = [("files", ("c.png", (folders / "img" / "cat" / "2.png").read_bytes(), "image/png"))]
    with TestClient(app) as client:
        assert client.post("/v1/models/pets/predict", files=image).json()["results"]
        assert client.post("/v1/indexes/pets/search", files=image).json()["neighbours"]


def test_vectors_too_long_for_float32_heads_are_refused_by_name():
    """Issue 25 #6: a vector whose length overflows float32 arithmetic was answered 0.5/0.5;
    the schema caps each number at 1e6, and a very wide vector is still refused by length."""
    from headstart.api.serving import as_vectors
    from headstart.exceptions import DataError

    assert as_vectors([[1e6] * 784], 784, "model 'pets'").shape == (1, 784)
    with pytest.raises(DataError, match=r"vectors\[1\] has length 2e\+08, above 1e\+08"):
        as_vectors([[0.0] * 40_000, [1e6] * 40_000], None, "model 'pets'")
