"""DiffROAR(k) (Shah, Jain & Netrapalli 2021): how discriminative the pixels an attribution
ranks highest are. The model's attributions rank each image's pixels; the head is refitted on
the images keeping only their top-k% pixels and, apart, only their bottom-k% (the rest set to
the training images' mean value, or a given fill; RemOve And Retrain, Hooker et al. 2019);
DiffROAR(k) is the
test accuracy of the first minus that of the second. Positive: the attribution puts the
discriminative pixels first; negative: it inverts them.

Here the model is head ∘ frozen encoder, so "retrain" refits the head on the masked images'
embeddings. Every image (training and test) is ranked by the attribution of the original
model's predicted class; a `random` ranking is the reference (DiffROAR ≈ 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from headstart.attributions.differentiable import differentiable_model
from headstart.attributions.maps import keep_mask, saliency
from headstart.attributions.methods import attribute
from headstart.encoders import Encoder

RANDOM = "random"
BATCH = 32


def prepared(encoder: Encoder, items: Sequence[Any]) -> np.ndarray:
    """Items as the encoder prepares them: (n, S, S, C) uint8."""
    return np.stack([encoder.prepare(item) for item in items])


def _encode(encoder: Encoder, arrays: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [encoder.encode_batch(list(arrays[i : i + 64])) for i in range(0, len(arrays), 64)]
    )


def saliency_maps(
    encoder: Encoder, model: Any, arrays: np.ndarray, method: str, seed: int = 0
) -> np.ndarray:
    """(n, S, S) saliency of the model's predicted class (or random, for `random`)."""
    if method == RANDOM:
        return np.random.default_rng(seed).random(arrays.shape[:3])
    network = differentiable_model(encoder, model)
    out = []
    for start in range(0, len(arrays), BATCH):
        pixels = torch.as_tensor(arrays[start : start + BATCH], dtype=torch.float32)
        pixels = pixels.permute(0, 3, 1, 2).contiguous()
        with torch.no_grad():
            target = network(pixels).argmax(dim=1).numpy()
        out.append(saliency(attribute(network, pixels, target, method, seed)))
    return np.concatenate(out)


def masked(arrays: np.ndarray, keep: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """`arrays` (n, S, S, C) with the pixels outside `keep` (n, S, S) set to `fill` (C,)."""
    return np.where(keep[..., None], arrays, np.round(fill).astype(arrays.dtype))


def _keep(maps: np.ndarray, inside: np.ndarray, share: float, top: bool) -> np.ndarray:
    """The keep-mask of the top or bottom `share` of the pixels `inside`, the rest kept."""
    keep = np.ones(maps.shape, dtype=bool)
    chosen = keep_mask(maps[:, inside][:, :, None], share, top)[:, :, 0]
    keep[:, inside] = chosen
    return keep


def diffroar(
    encoder: Encoder,
    make_head: Callable[[], Any],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    method: str,
    ks: Sequence[float] = (5, 10, 20, 50),
    seed: int = 0,
    fill: float | None = None,
    region: np.ndarray | None = None,
) -> dict[str, Any]:
    """DiffROAR(k) for k in `ks` (percent of pixels kept) of attribution `method` on the head
    `make_head()` over `encoder`; `train`/`test` are (prepared arrays, labels). Returns the
    accuracies (original, top-k, bottom-k), DiffROAR per k and the saliency maps' test part.
    `fill`: the value removed pixels take (default: the training images' mean, as ROAR; 0 on
    black-background images such as BlockMNIST, where a mean fill would draw the mask — and
    with it the predicted class — into every image). `region` (S, S booleans): rank and mask
    only these pixels (k% of them), the others kept — e.g. BlockMNIST's two blocks, leaving out
    the black margins every attribution rightly ranks last."""
    (X_train, y_train), (X_test, y_test) = train, test
    inside = np.ones(X_train.shape[1:3], dtype=bool) if region is None else np.asarray(region)
    model = make_head().fit(_encode(encoder, X_train), y_train)
    original = float(np.mean(model.predict(_encode(encoder, X_test)) == y_test))
    maps = saliency_maps(encoder, model, np.concatenate([X_train, X_test]), method, seed)
    train_maps, test_maps = maps[: len(X_train)], maps[len(X_train) :]
    channels = X_train.shape[-1]
    fill_value = (
        X_train.reshape(-1, channels).mean(axis=0) if fill is None else np.full(channels, fill)
    )
    rows = []
    for k in ks:
        accuracy = {}
        for side, top in (("top", True), ("bottom", False)):
            kept_train = masked(X_train, _keep(train_maps, inside, k / 100, top), fill_value)
            kept_test = masked(X_test, _keep(test_maps, inside, k / 100, top), fill_value)
            head = make_head().fit(_encode(encoder, kept_train), y_train)
            accuracy[side] = float(np.mean(head.predict(_encode(encoder, kept_test)) == y_test))
        rows.append({"k": k, **accuracy, "diffroar": accuracy["top"] - accuracy["bottom"]})
    return {"method": method, "original_accuracy": original, "rows": rows, "test_maps": test_maps}
