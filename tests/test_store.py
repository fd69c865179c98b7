import json
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from headstart import api
from headstart.embedding import embed_dataset
from headstart.encoders import create_encoder
from headstart.exceptions import DataError, StoreError
from headstart.store import Store, read_vectors_file, write_vectors

RUN = """
import sys
from headstart.datasets import load_dataset
from headstart.embedding import embed_dataset
from headstart.encoders import create_encoder
data = load_dataset("digits").take(int(sys.argv[2]))
embed_dataset(data, create_encoder("efficientnet-lite0"), sys.argv[1], batch_size=4,
              shard_size=8, num_threads=1, num_workers=1, progress=False)
"""


def embed(data, out, **kw):
    options = {
        "batch_size": 4,
        "shard_size": 8,
        "num_threads": 1,
        "num_workers": 1,
        "progress": False,
        **kw,
    }
    return embed_dataset(data, create_encoder("efficientnet-lite0"), out, **options)


def kill_after_shards(process, store, enough: int, timeout: float = 180) -> int:
    """SIGKILL `process` once the store's manifest lists `enough` shards (or parts); the
    number listed at the kill. Fails if the run ended first."""
    deadline, listed = time.time() + timeout, 0
    while time.time() < deadline and process.poll() is None:
        manifest = store / "manifest.json"
        if manifest.exists():
            listed = len(json.loads(manifest.read_text())["shards"])
            if listed >= enough:
                process.send_signal(signal.SIGKILL)
                break
        time.sleep(0.02)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    return listed


def test_killed_run_resumes_to_the_same_store(tmp_path, digits):
    data = digits.take(96)  # 96 items = 12 shards of 8
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", RUN, str(killed), "96"])
    shards_at_kill = kill_after_shards(process, killed, 2)
    assert 2 <= shards_at_kill < 12
    with pytest.raises(StoreError, match="incomplete"):
        Store(killed)

    resumed = embed(data, killed)
    assert not resumed.cache_hit and resumed.embedded < len(data)
    clean = embed(data, tmp_path / "clean").store
    store = resumed.store
    assert store.ids == clean.ids == data.ids  # same order, no duplicates
    assert np.array_equal(store.vectors().view(np.uint32), clean.vectors().view(np.uint32))
    assert store.key == clean.key
    assert not list(killed.rglob(".*tmp*"))


FLUSHING_RUN = """
import sys
from headstart.datasets import load_dataset
from headstart.embedding import embed_dataset
from headstart.encoders import create_encoder
data = load_dataset("digits").take(300)
embed_dataset(data, create_encoder("efficientnet-lite0"), sys.argv[1], batch_size=4,
              num_threads=1, num_workers=1, progress=False, flush_seconds=float(sys.argv[2]))
"""


def test_a_run_killed_inside_its_first_shard_keeps_the_parts_it_flushed(tmp_path, digits):
    """Issue 11: with the default shard size (1,024) a 300-item run was one shard, and a
    kill lost all of it. Shards are now flushed by time as well (30 s by default; 0.5 s
    here to keep the test short): the resumed run redoes only what came after the last
    part, and the store is bit-identical to an uninterrupted one."""
    data = digits.take(300)
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", FLUSHING_RUN, str(killed), "0.5"])
    kill_after_shards(process, killed, 2)
    done = sum(s["n_items"] for s in json.loads((killed / "manifest.json").read_text())["shards"])
    assert 0 < done < 300
    resumed = embed(data, killed, shard_size=1024, flush_seconds=0.5)
    assert resumed.embedded == 300 - done
    clean = embed(data, tmp_path / "clean", shard_size=1024).store
    assert resumed.store.ids == clean.ids == data.ids
    assert np.array_equal(resumed.store.vectors().view(np.uint32), clean.vectors().view(np.uint32))
    assert resumed.store.verify() == []


SLOW_RUN_WITH_DEFAULTS = """
import sys, time
from headstart.datasets import load_dataset
from headstart.embedding import embed_dataset
from headstart.encoders import create_encoder
encoder = create_encoder("raw-pixels")
fast = encoder.encode_batch
def slow(prepared):  # 0.13 s per item: 300 items take ~40 s, past the first 30 s flush
    time.sleep(0.13 * len(prepared))
    return fast(prepared)
encoder.encode_batch = slow
embed_dataset(load_dataset("digits").take(300), encoder, sys.argv[1], progress=False)
"""


@pytest.mark.slow  # over 30 s on 2 cores: make test-fast skips it
def test_a_300_item_run_killed_after_30_s_with_default_settings_keeps_its_work(tmp_path, digits):
    """Issue 11's acceptance run: default shard size (1,024) and flush interval (30 s); the
    run is killed once its first part is flushed (~30 s in), and the resume embeds only the
    items after that part. The store equals an uninterrupted one bit for bit."""
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", SLOW_RUN_WITH_DEFAULTS, str(killed)])
    started = time.time()
    kill_after_shards(process, killed, 1, timeout=300)
    assert time.time() - started > 25  # the first part came from the time limit, not size
    done = sum(s["n_items"] for s in json.loads((killed / "manifest.json").read_text())["shards"])
    assert 0 < done < 300
    data, raw = digits.take(300), create_encoder("raw-pixels")
    resumed = embed_dataset(data, raw, killed, progress=False)
    assert resumed.embedded == 300 - done
    clean = embed_dataset(data, raw, tmp_path / "clean", progress=False).store
    assert resumed.store.ids == clean.ids
    assert np.array_equal(resumed.store.vectors().view(np.uint32), clean.vectors().view(np.uint32))


def test_second_run_is_a_cache_hit(tmp_path, small_digits):
    first = embed(small_digits, tmp_path / "s")
    again = embed(small_digits, tmp_path / "s")
    assert again.cache_hit and again.embedded == 0 and "cache hit" in again.summary()
    assert first.embedded == len(small_digits)


def test_vectors_equal_a_direct_forward_pass(tmp_path, small_digits, lite0):
    store = embed(small_digits.subset(range(6)), tmp_path / "s").store
    direct = []
    for image in small_digits.items[:6]:
        x = lite0.to_tensor([lite0.prepare(image)])
        with torch.no_grad():
            direct.append(lite0.module.forward_features(x).numpy()[0])
    np.testing.assert_allclose(store.vectors(), np.stack(direct), rtol=1e-4, atol=1e-5)
    assert store.labels.tolist() == small_digits.labels[:6].tolist()


def test_cache_key_follows_encoder_card_and_content(tmp_path, small_digits):
    base = embed(small_digits, tmp_path / "a").store.key
    lite = create_encoder("efficientnet-lite0", resize="squash")
    squash = embed_dataset(small_digits, lite, tmp_path / "b", progress=False).store.key
    changed = small_digits.subset(range(len(small_digits)))
    changed.items = changed.items.copy()
    changed.items[0, 0, 0] ^= 1
    altered = embed(changed, tmp_path / "c").store.key
    assert len({base, squash, altered}) == 3


def test_store_of_another_run_is_never_overwritten_silently(tmp_path, small_digits):
    embed(small_digits, tmp_path / "s")
    other = small_digits.subset(range(8))
    with pytest.raises(StoreError, match="another encoder or dataset"):
        embed(other, tmp_path / "s")
    assert len(Store(tmp_path / "s")) == len(small_digits)  # nothing lost
    assert len(embed(other, tmp_path / "s", overwrite=True).store) == 8
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "thesis.tex").write_text("precious")
    with pytest.raises(StoreError, match="not empty and is not a headstart store"):
        embed(other, tmp_path / "foreign")
    assert (tmp_path / "foreign" / "thesis.tex").read_text() == "precious"


def test_corrupt_shard_is_recomputed_on_resume(tmp_path, small_digits):
    store = embed(small_digits, tmp_path / "s").store
    reference = store.vectors()
    shard = store.root / store.manifest.shards[1].file
    shard.write_bytes(b"garbage")
    assert Store(tmp_path / "s").verify() == [f"{store.manifest.shards[1].file}: checksum mismatch"]
    again = embed(small_digits, tmp_path / "s")
    assert again.embedded == 8
    np.testing.assert_array_equal(again.store.vectors(), reference)


def test_a_changed_shard_is_refused_whenever_vectors_are_read(tmp_path):
    """Issue 11: a tampered shard was used by eval and predict (only `--verify` read the
    checksums). A shard replaced by another valid shard, or by junk, is now an error at
    every read; `check_integrity=False` opts out."""
    import shutil

    rng = np.random.default_rng(0)
    vectors, labels = rng.normal(size=(64, 4)), np.repeat(["a", "b"], 32)
    store = write_vectors(tmp_path / "s", vectors, labels=labels, shard_size=16)
    model = api.fit(store.root, "prototype", tmp_path / "model")
    first, second = (store.root / s.file for s in store.manifest.shards[:2])
    shutil.copy(first, second)  # a valid Parquet file, the wrong rows
    with pytest.raises(StoreError, match="checksum mismatch — a shard changed"):
        Store(store.root).vectors()
    with pytest.raises(StoreError, match="checksum mismatch"):
        api.evaluate(store.root, ["prototype"], shots=(1,), seeds=1, progress=False)
    with pytest.raises(StoreError, match="checksum mismatch"):
        api.predict(model, store.root, progress=False)
    assert len(Store(store.root, check_integrity=False).vectors()) == 64
    second.write_bytes(b"junk")
    with pytest.raises(StoreError, match="checksum mismatch"):
        Store(store.root).vectors()


def test_hand_edited_class_names_are_refused_at_every_read(tmp_path, small_digits):
    """Issue 25 #4: swapping two class names in manifest.json passed `store info --verify`,
    relabelled every prediction, and a rerun of embed reported a cache hit over it."""
    store = embed(small_digits, tmp_path / "s").store
    path = store.root / "manifest.json"
    data = json.loads(path.read_text())
    names = data["dataset"]["class_names"]
    names[0], names[1] = names[1], names[0]
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(StoreError, match=r"manifest\.json was changed after headstart wrote it"):
        Store(store.root)
    with pytest.raises(StoreError, match="metadata checksum mismatch"):
        api.store_info(store.root, verify=True)
    with pytest.raises(StoreError, match="--overwrite embeds the store again"):
        embed(small_digits, tmp_path / "s")
    repaired = embed(small_digits, tmp_path / "s", overwrite=True)
    assert not repaired.cache_hit and repaired.store.class_names == store.class_names


# ------------------------------------------------------------------ bring your own vectors
def test_user_arrays_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    labels = rng.choice(["a", "b"], 300)
    store = write_vectors(tmp_path / "s", vectors, labels=labels, shard_size=128)
    assert len(store.manifest.shards) == 3
    np.testing.assert_array_equal(store.vectors(), vectors)
    assert store.class_names == ["a", "b"]
    assert store.labels.tolist() == [0 if v == "a" else 1 for v in labels]
    assert store.card.name == "user:user"


@pytest.mark.parametrize(
    "bad, where", [(np.nan, "row 7, column 3 is nan"), (np.inf, "row 7, column 3 is inf")]
)
def test_non_finite_user_vectors_name_the_row(tmp_path, bad, where):
    vectors = np.zeros((10, 5), np.float32)
    vectors[7, 3] = bad
    with pytest.raises(DataError, match=where):
        write_vectors(tmp_path / "s", vectors)
    assert not (tmp_path / "s").exists()


def test_ragged_user_vectors_name_the_row(tmp_path):
    with pytest.raises(DataError, match="ragged vectors: row 2 has length 3, row 0 has 4"):
        write_vectors(tmp_path / "s", [[0.0] * 4, [1.0] * 4, [2.0] * 3])
    table = pa.table({"vector": pa.array([[0.0, 1.0], [1.0, 2.0], [3.0]])})
    pq.write_table(table, tmp_path / "ragged.parquet")
    with pytest.raises(DataError, match="row 2 has length 1, row 0 has 2"):
        read_vectors_file(tmp_path / "ragged.parquet")


def test_files_are_never_unpickled(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="never unpickles"):
        read_vectors_file(tmp_path / "objects.npy")


def test_import_from_parquet_and_npz(tmp_path):
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    table = pa.table(
        {
            "id": ["w", "x", "y", "z"],
            "label": [0, 1, 0, 1],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), 3),
        }
    )
    pq.write_table(table, tmp_path / "v.parquet")
    store = api.import_vectors(tmp_path / "v.parquet", tmp_path / "s1")
    assert store.ids == ["w", "x", "y", "z"] and store.labels.tolist() == [0, 1, 0, 1]
    np.testing.assert_array_equal(store.vectors(), vectors)
    np.savez(tmp_path / "v.npz", embeddings=vectors, labels=np.array([1, 1, 0, 0]))
    store = api.import_vectors(tmp_path / "v.npz", tmp_path / "s2")
    np.testing.assert_array_equal(store.vectors(), vectors)


def test_process_decoding_gives_the_same_store(tmp_path, small_digits):
    threads = embed(small_digits, tmp_path / "t", num_workers=2)
    processes = embed(small_digits, tmp_path / "p", num_workers=2, decode="processes")
    assert processes.store.ids == threads.store.ids
    np.testing.assert_array_equal(processes.store.vectors(), threads.store.vectors())


def test_imported_vectors_that_were_silently_wrong_are_now_refused_or_kept_unlabelled(tmp_path):
    """Issue 11: complex vectors lost their imaginary part; null and NaN labels became
    classes "None" and "nan"; split "validation" was accepted and then ignored."""
    from headstart.exceptions import DataError
    from headstart.store import write_vectors

    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    with pytest.raises(DataError, match="vectors are complex"):
        write_vectors(tmp_path / "a", vectors.astype(np.complex64))
    store = write_vectors(tmp_path / "b", vectors, labels=["cat", None, float("nan"), "dog"])
    assert store.labels.tolist() == [0, -1, -1, 1] and store.class_names == ["cat", "dog"]
    store = write_vectors(tmp_path / "c", vectors, labels=np.array([1.0, np.nan, 0.0, 1.0]))
    assert store.labels.tolist() == [1, -1, 0, 1]
    with pytest.raises(DataError, match=r"split values \['validation'\] are not among"):
        write_vectors(tmp_path / "d", vectors, split=["train", "validation", "test", "test"])
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())


def test_a_one_class_store_is_a_clear_error_at_eval_and_fit(tmp_path):
    from headstart import api
    from headstart.exceptions import DataError
    from headstart.store import write_vectors

    rng = np.random.default_rng(0)
    store = write_vectors(tmp_path / "one", rng.normal(size=(20, 4)), labels=["cat"] * 20)
    with pytest.raises(DataError, match=r"a single class \('cat'\)"):
        api.evaluate(store.root, ["prototype"], shots=(1,), seeds=1, progress=False)
    with pytest.raises(DataError, match=r"a single class \('cat'\)"):
        api.fit(store.root, "prototype", tmp_path / "model")


def _parquet(path, columns):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)


BAD_VECTOR_FILES = [
    ("list_of_strings", lambda p: _parquet(p, {"vector": [["a", "b"], ["c", "d"]]}), "list<"),
    ("string_column", lambda p: _parquet(p, {"vector": ["1,2", "3,4"]}), "is string"),
    ("random_bytes", lambda p: p.write_bytes(bytes(range(256))), "not a readable Parquet"),
    ("pickle", lambda p: p.write_bytes(b"\x80\x04\x95\x10\x00.pickled"), "not a readable Parquet"),
    ("no_rows", lambda p: p.write_bytes(_empty_parquet_bytes()), "has no rows"),
]


def _empty_parquet_bytes():
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table({"vector": pa.array([], pa.list_(pa.float32()))}), buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "message"), [c[1:] for c in BAD_VECTOR_FILES], ids=[c[0] for c in BAD_VECTOR_FILES]
)
def test_bad_vector_files_are_data_errors(tmp_path, make, message):
    """Issue 11: these were tracebacks (ArrowInvalid, ValueError) instead of errors."""
    from headstart.exceptions import DataError
    from headstart.store import read_vectors_file

    path = tmp_path / "v.parquet"
    make(path)
    with pytest.raises(DataError, match=message):
        read_vectors_file(path)
