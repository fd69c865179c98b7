"""Writes tests/data/corruption_reference.npz: the outputs of the `imagecorruptions` package
(Michaelis et al., the ImageNet-C corruptions of Hendrycks & Dietterich 2019 for any image
size) on one fixed 32×32 photo, for every corruption that runs with today's NumPy and
scikit-image, at severities 1–5, with NumPy's legacy global seed set to 1000·i + severity before
each call — the reference headstart's own corruptions are tested against.

It needs a separate environment (the package imports `pkg_resources`, removed in setuptools
81; headstart reads only its frost pictures, as files):
    python -m venv /tmp/icv && /tmp/icv/bin/pip install imagecorruptions "setuptools<81" \
        scikit-image && /tmp/icv/bin/python tests/data/make_corruption_reference.py
Measured 2026-12-07 (imagecorruptions 1.1.2, opencv-python 5.1, NumPy 2.4.6, scikit-image
0.26.0): glass_blur and gaussian_blur fail (scikit-image removed `multichannel`), fog fails
(NumPy 2 removed `np.float_`); the other 16 run. Two shims, each restoring what the library
renamed, let those three run too: `np.float_` as `np.float64`, and scikit-image's `gaussian`
taking `multichannel=True` as `channel_axis=-1`. (`impulse_noise` draws from scikit-image's own
unseeded generator, so it is compared by its statistics, not value by value.)
"""

from pathlib import Path

import numpy as np
import skimage.filters
from PIL import Image
from skimage import data

np.float_ = np.float64  # shim: removed in NumPy 2
_gaussian = skimage.filters.gaussian


def _gaussian_shim(image, *args, multichannel=None, **kwargs):
    if multichannel:
        kwargs["channel_axis"] = -1
    return _gaussian(image, *args, **kwargs)


skimage.filters.gaussian = _gaussian_shim  # shim: `multichannel` became `channel_axis`
import imagecorruptions.corruptions as module  # noqa: E402  (after the shims)

module.gaussian = _gaussian_shim
from imagecorruptions import corrupt, get_corruption_names  # noqa: E402

image = np.asarray(Image.fromarray(data.astronaut()).resize((32, 32), Image.BICUBIC))
arrays, failed = {"image": image}, []
for i, name in enumerate(get_corruption_names("all")):
    try:
        for severity in range(1, 6):
            np.random.seed(1000 * i + severity)
            arrays[f"{name}/{severity}"] = np.asarray(
                corrupt(image, corruption_name=name, severity=severity), dtype=np.uint8
            )
    except Exception as error:  # recorded: the package no longer runs this one
        failed.append(f"{name}: {type(error).__name__}: {error}")
        for severity in range(1, 6):
            arrays.pop(f"{name}/{severity}", None)
arrays["failed"] = np.array(failed)
arrays["seed_index"] = np.array(get_corruption_names("all"))
np.savez_compressed(Path(__file__).with_name("corruption_reference.npz"), **arrays)
print(len(arrays) - 3, "outputs;", failed)
