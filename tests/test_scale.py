"""The Ray Data engine: the same store as the local engine (ids, vectors, key), a killed run
resumed to that store, batch prediction equal to the local one, and its bad inputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import image_folder

from headstart import api
from headstart.exceptions import DataError, UnknownNameError

ray = pytest.importorskip("ray")
RAY = {"num_cpus": 2, "batch_size": 16}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """~200 images and their store from the local engine (EfficientNet-Lite0)."""
    root = tmp_path_factory.mktemp("scale")
    folder = image_folder(root / "img", per_class=100)
    local = api.embed(str(folder), "efficientnet-lite0", root / "local", progress=False).store
    yield folder, local
    ray.shutdown()


@pytest.mark.slow  # over 30 s on 2 cores: make test-fast skips it
def test_the_ray_store_equals_the_local_one(images, tmp_path):
    folder, local = images
    result = api.embed(
        str(folder), "efficientnet-lite0", tmp_path / "ray", engine="ray", engine_options=RAY
    )
    store = result.store
    assert store.key == local.key and store.ids == local.ids and len(store) == 200
    np.testing.assert_allclose(store.vectors(), local.vectors(), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(store.labels, local.labels)
    assert store.manifest.encoder == local.manifest.encoder and store.manifest.complete
    again = api.embed(
        str(folder), "efficientnet-lite0", tmp_path / "ray", engine="ray", engine_options=RAY
    )
    assert again.cache_hit  # a finished store is a cache hit for either engine


KILLED_RUN = """
import sys
from headstart import api
api.embed(sys.argv[1], "efficientnet-lite0", sys.argv[2], engine="ray", shard_size=40,
          progress=False, engine_options={"num_cpus": 2, "batch_size": 8})
"""


@pytest.mark.slow  # over 30 s on 2 cores: make test-fast skips it
def test_a_killed_ray_run_resumes_to_the_same_store(images, tmp_path):
    folder, local = images
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(folder), str(out)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    written = 0
    while time.monotonic() < deadline and process.poll() is None:
        if (out / "manifest.json").exists():
            manifest = json.loads((out / "manifest.json").read_text())
            written = len(manifest["shards"])
            if written >= 1:
                break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert 1 <= written < 5, f"the run was to be killed after its first of 5 shards ({written})"
    resumed = api.embed(
        str(folder),
        "efficientnet-lite0",
        out,
        engine="ray",
        shard_size=40,
        engine_options=RAY,
        progress=False,
    )
    assert resumed.embedded <= 200 - 40  # the shard written before the kill is kept
    store = resumed.store
    assert store.key == local.key and store.ids == local.ids
    np.testing.assert_allclose(store.vectors(), local.vectors(), rtol=0, atol=1e-6)


def test_ray_batch_prediction_equals_the_local_one(images, tmp_path):
    _, local = images
    api.fit(local.root, "prototype", tmp_path / "model")
    here = api.predict(tmp_path / "model", local.root, top_k=2, progress=False)
    there = api.predict(tmp_path / "model", local.root, top_k=2, engine="ray", engine_options=RAY)
    assert list(there) == list(here)


def test_engine_mistakes_are_named(images, tmp_path, hide_module):
    folder, _ = images
    with pytest.raises(UnknownNameError, match=r"unknown engine 'spark'.*local, ray"):
        api.embed(str(folder), "raw-pixels", tmp_path / "a", engine="spark")
    with pytest.raises(DataError, match="augmented views"):
        api.embed(str(folder), "raw-pixels", tmp_path / "b", engine="ray", views=2)
    with pytest.raises(DataError, match="concurrency and batch_size must be positive"):
        api.embed(
            str(folder),
            "raw-pixels",
            tmp_path / "c",
            engine="ray",
            engine_options={"concurrency": 0},
        )
    with pytest.raises(DataError, match="has no option 'workers'"):
        api.embed(
            str(folder), "raw-pixels", tmp_path / "d", engine="ray", engine_options={"workers": 2}
        )
    hide_module("ray")
    ray.shutdown()
    with pytest.raises(DataError, match=r"pip install 'headstart\[ray\]'"):
        api.embed(str(folder), "raw-pixels", tmp_path / "e", engine="ray")
