"""Which stores a bench may compare seed by seed: those holding the same items, in the same
order, with the same labels and splits. For them the split rule picks the same training and
test rows and a seed draws the same k-shot rows (the sampler sees identical label arrays), so
encoders are compared on identical samples — paired differences, as heads are compared.
Stores whose items differ (an encoder that could not read some images, another limit) are
never paired; the leaderboard says so."""

from __future__ import annotations

import hashlib

import numpy as np

from headstart.store import Store


def items_fingerprint(store: Store) -> str:
    """Hash of the item ids, their labels (by class name), their split and the class order
    (the sampler draws class by class in index order), in row order."""
    digest = hashlib.sha256()
    names = np.array([*store.class_names, ""], dtype=object)
    labels = names[np.where(store.labels >= 0, store.labels, len(names) - 1)]
    split = store.split if store.split is not None else np.array([""] * len(store))
    for part in (store.ids, labels.tolist(), [str(s) for s in split], store.class_names):
        digest.update("\x1f".join(map(str, part)).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()[:16]


def pairing_groups(fingerprints: dict[str, str | None]) -> list[list[str]]:
    """Encoders (keys) grouped by the items fingerprint of their store of one dataset, the
    largest group first; an encoder without a store (failed) is in no group."""
    groups: dict[str, list[str]] = {}
    for encoder, fingerprint in fingerprints.items():
        if fingerprint:
            groups.setdefault(fingerprint, []).append(encoder)
    return sorted(groups.values(), key=len, reverse=True)
