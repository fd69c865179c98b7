"""Issue 25, items 1, 2, 3, 8 and 14: one writer per output folder (an OS lock beside it that
names its holder), `--overwrite` that replaces a folder only once the new one is complete,
`fit -o` that refuses folders it did not write, a clear message when the disk is full, and
derived stores and audit reports that a killed run never leaves half written."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from headstart import api
from headstart.cli import app
from headstart.exceptions import DataError, HeadstartError
from headstart.store import Store, StoreWriter, write_vectors

runner = CliRunner()
HEADSTART = str(Path(sys.executable).with_name("headstart"))


def _embed_args(out: Path, *extra: str) -> list[str]:
    return ["embed", "digits", "-e", "raw-pixels", "-o", str(out), "-q", *extra]


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.01)


def test_a_second_writer_of_a_store_is_refused_naming_the_first(tmp_path):
    """Two real processes on one store folder: the first (paused while it writes) keeps its
    store; a second run of another key with --overwrite, and a second run of the same key,
    are both refused with the first one's pid, and do none of its work."""
    store = tmp_path / "s"
    slow = _embed_args(store, "--limit", "100", "--batch-size", "1", "--shard-size", "1")
    first = subprocess.Popen([HEADSTART, *slow], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(store / "manifest.json", first)
        first.send_signal(signal.SIGSTOP)  # holds the folder, mid-write, for as long as needed
        others = [
            _embed_args(store, "--limit", "40", "--overwrite"),  # another key
            slow,  # the same key
        ]
        seconds = [
            subprocess.run([HEADSTART, *args], capture_output=True, text=True, timeout=120)
            for args in others
        ]
        first.send_signal(signal.SIGCONT)
        output, _ = first.communicate(timeout=120)
    finally:
        first.send_signal(signal.SIGCONT)
        if first.poll() is None:
            first.kill()
    for second in seconds:
        message = " ".join((second.stdout + second.stderr).split())
        assert second.returncode != 0, message
        assert f"process {first.pid}" in message and "being written" in message
    assert first.returncode == 0, output
    done = Store(store)
    assert len(done) == 100 and done.verify() == []


def test_overwrite_keeps_the_old_store_until_the_new_one_is_complete(tmp_path, monkeypatch):
    store = tmp_path / "s"
    old = api.embed("digits", "raw-pixels", store, limit=30, shard_size=8, progress=False)
    real = StoreWriter.write_shard
    calls = []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the new store is half written
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StoreWriter, "write_shard", interrupted)
    with pytest.raises(KeyboardInterrupt):
        api.embed(
            "digits", "raw-pixels", store, limit=40, shard_size=8, overwrite=True, progress=False
        )
    kept = Store(store)
    assert kept.key == old.store.key and len(kept) == 30 and kept.verify() == []
    monkeypatch.setattr(StoreWriter, "write_shard", real)
    new = api.embed(
        "digits", "raw-pixels", store, limit=40, shard_size=8, overwrite=True, progress=False
    )
    assert new.embedded < 40  # the half-written new store was resumed, not redone
    assert len(Store(store)) == 40 and Store(store).verify() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [".s.lock", "s"]


def test_every_folder_writer_is_refused_while_another_holds_the_folder(tmp_path):
    from headstart.output import FolderLock

    source = _gaussians(tmp_path / "s")
    settings = api.AdaptSettings(loss="supcon", epochs=2, batch_size=32, patience=2)
    targets = {
        "model": lambda out: api.fit(source.root, "prototype", out),
        "index": lambda out: api.build_index(source.root, out),
        "adapter": lambda out: api.adapt(source.root, out, settings, progress=False),
        "audit": lambda out: api.audit(source.root, out, progress=False),
        "store": lambda out: write_vectors(out, np.ones((4, 3), np.float32)),
    }
    for name, write in targets.items():
        out = tmp_path / name
        busy = f"being written by process {os.getpid()}"
        with FolderLock(out, "folder"), pytest.raises(DataError, match=busy):
            write(out)
        assert not out.exists()
        write(out)  # the lock is gone with its holder


def test_a_busy_adapter_or_index_folder_is_refused_before_the_work(tmp_path, monkeypatch):
    """Adapters train and indexes build before they write: a folder another process is
    writing is refused before that work, not after it."""
    import importlib

    from headstart.output import FolderLock

    adapt_api = importlib.import_module("headstart.api.adapt")  # not the function api.adapt
    index_api = importlib.import_module("headstart.api.index")

    def no_work(*args, **kwargs):
        raise AssertionError("the work started although the folder was busy")

    monkeypatch.setattr(adapt_api, "fit_adapter", no_work)
    monkeypatch.setattr(index_api.VectorIndex, "build", no_work)
    source = _gaussians(tmp_path / "s")
    for name, write in {
        "adapter": lambda out: api.adapt(source.root, out, progress=False),
        "index": lambda out: api.build_index(source.root, out),
    }.items():
        out = tmp_path / name
        with FolderLock(out, "folder"), pytest.raises(DataError, match="being written by"):
            write(out)


def _gaussians(path: Path, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 30)
    X = rng.normal(size=(3, 8))[y] * 3 + rng.normal(size=(90, 8))
    split = np.where(np.arange(90) % 3 == 0, "test", "train")
    return write_vectors(path, X, labels=[str(c) for c in y], split=split, class_names=None)


def test_fit_refuses_folders_it_did_not_write_and_replaces_a_model_only_when_asked(tmp_path):
    store = _gaussians(tmp_path / "s")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "provenance.json").write_text('{"my": "notes"}')
    for foreign in (notes, store.root):
        before = {p: p.read_bytes() for p in foreign.rglob("*") if p.is_file()}
        with pytest.raises(DataError, match="is not a folder of headstart models"):
            api.fit(store.root, "gda", foreign, overwrite=True)
        assert {p: p.read_bytes() for p in foreign.rglob("*") if p.is_file()} == before
    model = api.fit(store.root, "gda", tmp_path / "m")
    with pytest.raises(DataError, match="--overwrite"):
        api.fit(store.root, "prototype", model)
    assert json.loads((model / "provenance.json").read_text())["head"] == "gda"
    api.fit(store.root, "prototype", model, overwrite=True)
    assert json.loads((model / "provenance.json").read_text())["head"] == "prototype"


def test_a_refit_that_fails_leaves_the_saved_model_as_it_was(tmp_path, monkeypatch):
    from headstart.openset.reject import RejectOption

    store = _gaussians(tmp_path / "s")
    model = api.fit(store.root, "gda", tmp_path / "m", reject="mls")
    before = {p.name: p.read_bytes() for p in model.iterdir()}

    def full(self, folder):
        raise OSError(errno.EIO, "input/output error")

    monkeypatch.setattr(RejectOption, "save", full)
    with pytest.raises(OSError):
        api.fit(store.root, "prototype", model, reject="mls", overwrite=True)
    assert {p.name: p.read_bytes() for p in model.iterdir()} == before
    assert not list(tmp_path.glob(".m.p*"))  # no staging or set-aside copy left behind


def test_a_refit_drops_the_old_models_reject_option(tmp_path):
    """Issue 25 #3: `fit --head gda --reject mls -o M`, then `fit --head prototype -o M`
    answered "unknown" for every item (the first fit's threshold on the second model)."""
    store, model = tmp_path / "s", tmp_path / "m"
    assert runner.invoke(app, _embed_args(store, "--limit", "60")).exit_code == 0
    fit = ["fit", str(store), "-o", str(model), "--head"]
    first = runner.invoke(app, [*fit, "gda", "--reject", "mls"])
    assert first.exit_code == 0, first.output
    assert (model / "reject.json").exists()
    args = [*fit, "prototype"]
    refused = runner.invoke(app, args)
    assert refused.exit_code != 0 and "--overwrite" in str(refused.exception)
    second = runner.invoke(app, [*args, "--overwrite"])
    assert second.exit_code == 0, second.output
    assert not (model / "reject.json").exists()
    rows = api.predict(model, store, None, progress=False)
    assert len(rows) == 60 and not any(row.get("prediction") == "unknown" for row in rows)


def test_disk_full_during_embed_names_the_folder_and_the_space_and_resumes(tmp_path, monkeypatch):
    from headstart.store import writer

    store = tmp_path / "s"
    real = writer.pq.write_table
    calls = []

    def filling(table, where, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            Path(where).write_bytes(b"half a shard")  # what a full disk leaves behind
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(table, where, **kwargs)

    monkeypatch.setattr(writer.pq, "write_table", filling)
    args = _embed_args(store, "--limit", "40", "--shard-size", "8")
    full = runner.invoke(app, args)
    assert full.exit_code != 0 and isinstance(full.exception, HeadstartError)
    message = str(full.exception)
    assert "no space left" in message and str(store) in message
    assert "24 items × 784 × 4 bytes" in message and "0.1 MB" in message
    assert not list(store.rglob(".*tmp*"))
    monkeypatch.setattr(writer.pq, "write_table", real)
    resumed = runner.invoke(app, args)
    assert resumed.exit_code == 0 and "embedded 24 items" in resumed.output
    clean = api.embed("digits", "raw-pixels", tmp_path / "clean", limit=40, progress=False)
    again = Store(store)
    assert again.ids == clean.store.ids and again.verify() == []
    assert np.array_equal(again.vectors(), clean.store.vectors())


def test_a_store_transform_or_fix_interrupted_midway_leaves_nothing_and_reruns(
    tmp_path, monkeypatch
):
    source = _gaussians(tmp_path / "s")
    settings = api.AdaptSettings(loss="supcon", epochs=2, batch_size=32, patience=2)
    api.adapt(source.root, tmp_path / "adapter", settings, progress=False)
    real = StoreWriter.finish

    def killed(self):
        raise KeyboardInterrupt

    for name, derive in {
        "adapted": lambda out: api.transform(source.root, tmp_path / "adapter", out),
        "fixed": lambda out: api.audit(
            source.root, tmp_path / "audit", fix="drop", fix_out=out, progress=False
        ),
    }.items():
        out = tmp_path / name
        monkeypatch.setattr(StoreWriter, "finish", killed)
        with pytest.raises(KeyboardInterrupt):
            derive(out)
        assert not out.exists()
        monkeypatch.setattr(StoreWriter, "finish", real)
        derive(out)
        assert Store(out).verify() == []


def test_a_store_transform_killed_by_signal_reruns(tmp_path):
    """A SIGKILL leaves the hidden staging folder beside the new store; the rerun removes
    it (the reader of a half-written derived store would advise an impossible re-embed)."""
    source = _gaussians(tmp_path / "s")
    settings = api.AdaptSettings(loss="supcon", epochs=2, batch_size=32, patience=2)
    api.adapt(source.root, tmp_path / "adapter", settings, progress=False)
    stale = tmp_path / ".adapted.partial"
    (stale / "shards").mkdir(parents=True)
    (stale / "manifest.json").write_text("{}")
    api.transform(source.root, tmp_path / "adapter", tmp_path / "adapted")
    assert Store(tmp_path / "adapted").verify() == [] and not stale.exists()


def test_an_interrupted_audit_never_leaves_tables_without_their_summary(tmp_path, monkeypatch):
    from headstart.report import audit_page

    source = _gaussians(tmp_path / "s")
    out = tmp_path / "audit"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(audit_page, "write_audit_page", killed)
    with pytest.raises(KeyboardInterrupt):
        api.audit(source.root, out, progress=False)
    assert not (out / "issues.csv").exists() and not (out / "audit.json").exists()
    monkeypatch.undo()
    first = api.audit(source.root, out, progress=False)
    names = {p.name for p in out.iterdir()}
    assert {"issues.csv", "audit.json", "audit.html"} <= names
    monkeypatch.setattr(audit_page, "write_audit_page", killed)
    with pytest.raises(KeyboardInterrupt):  # a rerun killed: the first report set stays whole
        api.audit(source.root, out, threshold=0.5, progress=False)
    assert {p.name for p in out.iterdir()} == names
    summary = json.loads((out / "audit.json").read_text())
    assert summary["near_threshold"] == first.summary["near_threshold"] == 0.97
