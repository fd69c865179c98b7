"""Saved models that were tampered with or broken: each is a `StoreError` naming the file,
never a traceback and never a model that loads and predicts NaN (issue 11)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from headstart.cards import file_sha256
from headstart.exceptions import StoreError
from headstart.heads import create_head
from headstart.json_files import sealed
from headstart.persistence import ARRAYS_FILE, MODEL_FILE, load_model, save_model


@pytest.fixture
def saved(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), np.repeat([0, 1], 20)
    folder = save_model(create_head("gda").fit(X, y), tmp_path / "gda")
    other = save_model(create_head("gda").fit(X * 3, y), tmp_path / "other")
    return folder, other, X


def _edit_json(folder, change, seal=True):
    """Change model.json as a crafted file would (sealed again: the seal is no defence)."""
    meta = json.loads((folder / MODEL_FILE).read_text())
    change(meta)
    (folder / MODEL_FILE).write_text(json.dumps(sealed(meta) if seal else meta))


def test_an_intact_model_round_trips(saved):
    folder, _, X = saved
    assert np.isfinite(load_model(folder).predict_proba(X)).all()


def _invalid_json(folder, other):
    (folder / MODEL_FILE).write_text("{not json")


def _unknown_parameter(folder, other):
    _edit_json(folder, lambda m: m["params"].update(shrinkage=0.3))


def _unknown_kind(folder, other):
    _edit_json(folder, lambda m: m.update(kind="gdaa"))


def _state_shadows_a_method(folder, other):
    _edit_json(folder, lambda m: m["state"].update(predict_proba=1))


def _hand_edited(folder, other):  # issue 25 #4: metadata was not covered by a checksum
    _edit_json(folder, lambda m: m["versions"].update(headstart="0.0.9"), seal=False)


def _state_key_is_a_path(folder, other):  # issue 25 #5: `/..` passed the part-{key} guard
    shutil.copytree(other, folder.parent / "outside_")
    key = "q_/../../outside_"
    _edit_json(folder, lambda m: m["state"].update({key: {"estimator": f"part-{key}"}}))
    (folder / "part-q_").mkdir()


def _linked_step_outside(folder, other):
    inner = folder.parent / "inner"
    shutil.copytree(folder, inner)
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / MODEL_FILE).write_text(json.dumps(sealed({"kind": "pipeline", "steps": ["gda"]})))
    (folder / "step-0").symlink_to(other)


def _missing_weights(folder, other):
    (folder / ARRAYS_FILE).unlink()


def _truncated_weights(folder, other):
    data = (folder / ARRAYS_FILE).read_bytes()
    (folder / ARRAYS_FILE).write_bytes(data[: len(data) // 2])


def _corrupt_header(folder, other):
    (folder / ARRAYS_FILE).write_bytes(b"\xff" * 64)
    _edit_json(folder, lambda m: m.pop("arrays_sha256"))  # get past the checksum


def _swapped_weights(folder, other):
    shutil.copy(other / ARRAYS_FILE, folder / ARRAYS_FILE)


def _nan_weights(folder, other):
    arrays = load_file(str(folder / ARRAYS_FILE))
    arrays["coef_"][0, 0] = np.nan
    save_file(arrays, str(folder / ARRAYS_FILE))
    _edit_json(folder, lambda m: m.update(arrays_sha256=file_sha256(folder / ARRAYS_FILE)))


CASES = [
    (_invalid_json, "is not valid JSON"),
    (_unknown_parameter, "gda has no parameter 'shrinkage'"),
    (_unknown_kind, "gdaa"),
    (_state_shadows_a_method, "'predict_proba' is not fitted state of gda"),
    (_hand_edited, "metadata checksum mismatch"),
    (_state_key_is_a_path, "'q_/../../outside_' is not fitted state of gda"),
    (_linked_step_outside, "sub-folder 'step-0' resolves outside the model folder"),
    (_missing_weights, "arrays.safetensors is missing"),
    (_truncated_weights, "checksum mismatch"),
    (_corrupt_header, "is not a readable safetensors file"),
    (_swapped_weights, "checksum mismatch"),
    (_nan_weights, "'coef_' holds NaN or infinite values"),
]


@pytest.mark.parametrize(("damage", "message"), CASES, ids=[c[0].__name__[1:] for c in CASES])
def test_a_damaged_model_is_a_clear_error(saved, damage, message):
    folder, other, _ = saved
    damage(folder, other)
    with pytest.raises(StoreError, match=message):
        load_model(folder)


def test_a_model_folder_without_provenance_is_a_clear_error(tmp_path):
    from headstart import api

    store = api.embed("digits", "raw-pixels", tmp_path / "s", limit=60, progress=False).store
    model = api.fit(store.root, "prototype", tmp_path / "model")
    (model / "provenance.json").write_text("[1, 2")
    with pytest.raises(StoreError, match=r"provenance\.json is not valid JSON"):
        api.predict(model, store.root, progress=False)
    (model / "provenance.json").unlink()
    with pytest.raises(StoreError, match=r"provenance\.json is missing"):
        api.predict(model, store.root, progress=False)


def test_hand_edited_metadata_beside_a_model_or_index_is_refused(tmp_path):
    """Issue 25 #4: swapping two class names in a model's provenance.json or an index's
    index.json relabelled every prediction and passed every check."""
    from headstart import api

    store = api.embed("digits", "raw-pixels", tmp_path / "s", limit=60, progress=False).store
    model = api.fit(store.root, "prototype", tmp_path / "model", reject="msp")
    index = tmp_path / "index"
    api.build_index(store.root, index)
    for path in (model / "provenance.json", model / "reject.json", index / "index.json"):
        original = path.read_text()
        data = json.loads(original)
        data["edited"] = True
        path.write_text(json.dumps(data))
        with pytest.raises(StoreError, match="metadata checksum mismatch"):
            if path.parent == model:
                api.predict(model, store.root, progress=False)
            else:
                api.search_index(index, vectors=store.root)
        path.write_text(original)
    names = json.loads((model / "provenance.json").read_text())["class_names"]
    assert len(names) == 10 and api.predict(model, store.root, progress=False) is not None
