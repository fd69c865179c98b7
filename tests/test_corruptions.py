"""Corruptions (issue 28): each one, at each severity, equal to the `imagecorruptions`
package's output on the same image and seed (recorded in tests/data/corruption_reference.npz by
tests/data/make_corruption_reference.py, since the package no longer imports beside today's
setuptools and pulls in OpenCV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headstart.datasets.corruptions import CORRUPTIONS, FAMILIES, corrupt
from headstart.exceptions import DataError, UnknownNameError

REFERENCE = np.load(Path(__file__).parent / "data" / "corruption_reference.npz", allow_pickle=False)
ORDER = [str(n) for n in REFERENCE["seed_index"]]


UNSEEDED = {"impulse-noise"}  # the package draws from scikit-image's own generator


@pytest.mark.parametrize("name", sorted(set(CORRUPTIONS.names()) - UNSEEDED))
@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_each_corruption_equals_the_package_on_the_same_image_and_seed(name, severity):
    package = name.replace("-", "_")
    key = f"{package}/{severity}"
    assert key in REFERENCE.files, f"no package output for {package}"
    seed = 1000 * ORDER.index(package) + severity
    ours = corrupt(REFERENCE["image"], name, severity, seed)
    theirs = REFERENCE[key]
    assert ours.shape == theirs.shape and ours.dtype == np.uint8
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1  # float → uint8 rounding


@pytest.mark.parametrize("severity", [1, 2, 3, 4, 5])
def test_impulse_noise_flips_as_many_values_as_the_package(severity):
    """Values set to 0 or 255 beyond those already there: the package's share and ours agree
    (binomial, 3,072 values: within 4 standard deviations)."""
    image = REFERENCE["image"]
    theirs = REFERENCE[f"impulse_noise/{severity}"]
    ours = corrupt(image, "impulse-noise", severity, 0)
    amount = (0.03, 0.06, 0.09, 0.17, 0.27)[severity - 1]
    for out in (ours, theirs):
        changed = (out != image) & ((out == 0) | (out == 255))
        n = image.size
        assert abs(changed.mean() - amount) < 4 * np.sqrt(amount * (1 - amount) / n) + 0.01
        assert np.array_equal(out[~changed], image[~changed])


def test_severity_and_names_are_checked():
    image = REFERENCE["image"]
    with pytest.raises(DataError, match="severities are 1 to 5"):
        corrupt(image, "contrast", 6)
    with pytest.raises(UnknownNameError, match="gaussian-noise"):
        corrupt(image, "gaussian-nose", 1)
    with pytest.raises(DataError, match="RGB uint8"):
        corrupt(image.astype(float), "contrast", 1)
    assert set(FAMILIES) == set(CORRUPTIONS.names())
    families = sorted(FAMILIES.values())
    assert [families.count(f) for f in ("noise", "blur", "weather", "digital", "extra")] == [
        3,
        4,
        4,
        4,
        4,
    ]  # ImageNet-C's 15 in four families, and its 4 extra


def test_a_higher_severity_moves_the_image_further():
    image = REFERENCE["image"]
    for name in CORRUPTIONS.names():
        distance = [np.abs(corrupt(image, name, s, 0).astype(float) - image).mean() for s in (1, 5)]
        assert distance[1] > distance[0], name


def test_frost_without_its_pictures_names_the_extra(monkeypatch):
    from headstart.datasets.corruptions import weather
    from headstart.exceptions import MissingExtraError

    weather._frost_picture.cache_clear()
    real = weather.importlib.util.find_spec
    hidden = {"imagecorruptions": None}
    monkeypatch.setattr(
        weather.importlib.util, "find_spec", lambda name: hidden.get(name, real(name))
    )
    with pytest.raises(MissingExtraError, match="pip install --no-deps imagecorruptions"):
        corrupt(REFERENCE["image"], "frost", 1)
    weather._frost_picture.cache_clear()


@pytest.mark.parametrize("reach", [1, 2, 4])
def test_glass_blurs_vectorised_walk_equals_the_sequential_copies(reach):
    """ImageNet-C's loop, one position at a time, against the pointer-jumping version."""
    from headstart.datasets.corruptions.blur import _copy_walk

    rng = np.random.default_rng(reach)
    height = width = 40
    rows, cols = range(height - reach, reach, -1), range(width - reach, reach, -1)
    walk = np.array([h * width + w for h in rows for w in cols])
    taken = (
        walk
        + rng.integers(-reach, reach, len(walk)) * width
        + rng.integers(-reach, reach, len(walk))
    )
    expected = list(rng.permutation(height * width))
    source = np.array(expected)
    for p, q in zip(walk, taken, strict=True):
        expected[p] = expected[q]
    assert np.array_equal(_copy_walk(source, walk, taken), np.array(expected))
