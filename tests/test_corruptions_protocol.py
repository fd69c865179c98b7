"""The corruptions protocol (issue 28): heads fitted on clean training rows, scored on the test
rows under each corruption; corrupted stores hold test rows only, are cached, and a run that
stopped part-way embeds only what is missing; accuracies and mCE against an independent
computation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from headstart import api
from headstart.datasets import load_rgb
from headstart.datasets.corrupted import CorruptionRecipe, item_seed
from headstart.datasets.corruptions import corrupt
from headstart.encoders import create_encoder
from headstart.exceptions import DataError, UnknownNameError
from headstart.heads import Prototype
from headstart.protocol.common_corruptions import corruption_names, summarise
from headstart.store import Store, write_vectors
from headstart.workflow.splits import train_test_rows

CONDITIONS = dict(corruptions=["gaussian-noise", "contrast"], severities=[1, 5])


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADSTART_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def digit_store(tmp_path_factory, digits):
    out = tmp_path_factory.mktemp("corruptions") / "store"
    return api.embed(digits.take(100), "raw-pixels", out, progress=False).store


def _run(store, **more):
    settings = dict(heads=["prototype"], shots=["all"], seeds=1, corruption_size=32, **CONDITIONS)
    return api.run_protocol("corruptions", store.root, progress=False, **{**settings, **more})


def test_accuracies_equal_an_independent_computation_and_training_rows_stay_clean(
    digit_store, digits, cache
):
    results = _run(digit_store)
    train, test, _ = train_test_rows(digit_store)
    vectors, labels = digit_store.vectors(), digit_store.labels
    head = Prototype().fit(vectors[train], labels[train])  # clean training rows
    encoder = create_encoder("raw-pixels")
    where = {item_id: i for i, item_id in enumerate(digits.ids)}
    values = {r["metric"]: r["value"] for r in results.rows}
    clean = np.mean(head.predict(vectors[test]) == labels[test])
    assert values["store_accuracy"] == pytest.approx(clean)

    def crop(row):  # shorter side to round(32 / 0.875), then the centre 32 × 32
        image = load_rgb(digits.items[where[digit_store.ids[row]]])
        return np.asarray(image.resize((37, 37), Image.Resampling.BILINEAR).crop((2, 2, 34, 34)))

    reference = np.mean(head.predict(encoder.encode([crop(r) for r in test])) == labels[test])
    assert values["accuracy"] == pytest.approx(reference, abs=0.04)  # the same crop, clean
    for name in CONDITIONS["corruptions"]:
        for severity in CONDITIONS["severities"]:
            recipe = CorruptionRecipe(name, severity, 32, 0)
            images = []
            for row in test:
                seed = item_seed(recipe, digit_store.ids[row])
                images.append(corrupt(crop(row), name, severity, seed))
            X = encoder.encode(images)
            expected = np.mean(head.predict(X) == labels[test])
            assert values[f"accuracy/{name}/{severity}"] == pytest.approx(expected, abs=0.04)
    stores = sorted(p for p in (cache / "stores" / "corrupted").iterdir() if p.name[0] != ".")
    assert len(stores) == 5  # the clean reference and four corrupted test sets
    test_ids = sorted(digit_store.ids[r] for r in test)
    for folder in stores:  # test rows only, the recipe recorded
        corrupted = Store(folder)
        assert sorted(corrupted.ids) == test_ids and set(corrupted.split) == {"test"}
        recipe = corrupted.manifest.dataset["options"]["corruption"]
        assert recipe["corruption"] in [*CONDITIONS["corruptions"], "clean"]
        assert recipe["size"] == 32
    assert len({Store(f).key for f in stores}) == 5


def test_corrupted_stores_are_cached_and_a_stopped_run_embeds_only_what_is_missing(
    digit_store, cache, monkeypatch
):
    from headstart.workflow import corrupted

    made = []
    real = corrupted.embed_dataset

    def counting(data, encoder, out, **options):
        result = real(data, encoder, out, **options)
        made.append((out.name, result.cache_hit))
        if len(made) == 2 and stop:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(corrupted, "embed_dataset", counting)
    stop = True
    with pytest.raises(KeyboardInterrupt):
        _run(digit_store)
    assert [hit for _, hit in made] == [False, False]
    stop, made[:] = False, []
    first = _run(digit_store)
    assert [hit for _, hit in made] == [True, True, False, False, False]  # resumed
    made.clear()
    again = _run(digit_store)
    assert [hit for _, hit in made] == [True] * 5  # all cached
    assert [r["value"] for r in again.rows] == [r["value"] for r in first.rows]


def test_mce_follows_hendrycks_against_a_hand_computation():
    names, severities = ["gaussian-noise", "fog", "saturate"], [1, 2]
    mine = {"accuracy": 0.9, "accuracy/gaussian-noise/1": 0.8, "accuracy/gaussian-noise/2": 0.6}
    mine |= {"accuracy/fog/1": 0.85, "accuracy/fog/2": 0.7}
    mine |= {"accuracy/saturate/1": 0.5, "accuracy/saturate/2": 0.4}
    base = {"accuracy": 0.8, "accuracy/gaussian-noise/1": 0.5, "accuracy/gaussian-noise/2": 0.3}
    base |= {"accuracy/fog/1": 0.6, "accuracy/fog/2": 0.5}
    base |= {"accuracy/saturate/1": 0.1, "accuracy/saturate/2": 0.1}
    out = summarise(mine, base, names, severities)
    # saturate is one of the four extra corruptions: outside the mean, the drop and mCE
    assert out["corruption_accuracy"] == pytest.approx((0.8 + 0.6 + 0.85 + 0.7) / 4)
    assert out["extra_corruption_accuracy"] == pytest.approx(0.45)
    assert out["relative_drop"] == pytest.approx((0.9 - 0.7375) / 0.9)
    ce_noise, ce_fog = (0.2 + 0.4) / (0.5 + 0.7), (0.15 + 0.3) / (0.4 + 0.5)
    assert out["mce"] == pytest.approx((ce_noise + ce_fog) / 2)
    rel_noise = (0.1 + 0.3) / (0.3 + 0.5)
    rel_fog = (0.05 + 0.2) / (0.2 + 0.3)
    assert out["relative_mce"] == pytest.approx((rel_noise + rel_fog) / 2)


def test_a_baseline_encoder_gives_mce_on_the_same_rows(digit_store, cache):
    results = _run(digit_store, baseline="efficientnet-lite0", corruptions=["fog"], severities=[3])
    values = {r["metric"]: r["value"] for r in results.rows}
    error, base_error = 1 - values["accuracy/fog/3"], 1 - values["baseline_corruption_accuracy"]
    assert values["mce"] == pytest.approx(error / base_error)
    assert results.provenance["baseline"] == "efficientnet-lite0"


def test_names_families_and_bad_settings(tmp_path, digit_store, cache):
    assert len(corruption_names(["all"])) == 19 and len(corruption_names(["benchmark"])) == 15
    assert corruption_names(["noise"]) == ["gaussian-noise", "shot-noise", "impulse-noise"]
    with pytest.raises(UnknownNameError, match="Did you mean 'gaussian-noise'"):
        _run(digit_store, corruptions=["gaussian-nose"])
    with pytest.raises(DataError, match="severities are 1 to 5"):
        _run(digit_store, severities=[0, 6])
    with pytest.raises(DataError, match="at least 32"):
        _run(digit_store, corruption_size=16)
    vectors = write_vectors(
        tmp_path / "v", np.eye(8, dtype=np.float32)[np.arange(40) % 8], labels=np.arange(40) % 2
    )
    with pytest.raises(DataError, match="apply to images"):
        _run(vectors)
    text = api.embed("20newsgroups", "tfidf", tmp_path / "t", limit=40, progress=False).store
    with pytest.raises(DataError, match="apply to images"):
        _run(text)
    with pytest.raises(DataError, match="takes text items"):
        _run(digit_store, baseline="tfidf")
