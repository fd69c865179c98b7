"""`tuned:<folder>` — a sentence encoder fine-tuned by `headstart adapt --encoder`, loaded from
the folder it was saved to: the sentence-transformers files (weights as safetensors, nothing
pickled) and `headstart-encoder.json` (the base encoder's card, the tuning settings and
history, the ids of the texts it trained on, and the weights' sha256, checked on load). Its
card names the base encoder and the weights' hash, so stores it embeds never mix with the
base encoder's."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from headstart.cards import EncoderCard, file_sha256
from headstart.encoders.registry import ENCODERS
from headstart.encoders.sentence import SentenceEncoder, load_sentence_model
from headstart.exceptions import DataError, WeightsUnavailableError
from headstart.output import new_folder

META = "headstart-encoder.json"
WEIGHTS = "model.safetensors"
PICKLED = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def save_tuned(
    folder: str | Path,
    encoder: SentenceEncoder,
    settings: Any,
    history: dict[str, Any],
    trained_ids: list[str],
) -> Path:
    """Write the tuned body atomically (a hidden sibling renamed at the end)."""
    with new_folder(folder, "tuned encoders") as temporary:
        encoder.model.save(str(temporary), safe_serialization=True)
        meta = {
            "format": "headstart-tuned-encoder/1",
            "base_card": encoder.card.to_dict(),
            "settings": asdict(settings),
            "history": history,
            "trained_ids": trained_ids,
            "weights_sha256": file_sha256(temporary / WEIGHTS),
        }
        (temporary / META).write_text(json.dumps(meta, indent=1))
    return Path(folder)


def read_tuned(folder: str | Path) -> dict[str, Any]:
    """The folder's record, after checking it holds what `save_tuned` wrote and nothing pickled."""
    folder = Path(folder)
    if not (folder / META).is_file():
        raise WeightsUnavailableError(f"{folder} has no {META}: not saved by `headstart adapt`")
    pickled = sorted(p.name for p in folder.rglob("*") if p.suffix.lower() in PICKLED)
    if pickled:
        raise DataError(f"{folder} holds pickled files ({', '.join(pickled)}); refusing to load")
    try:
        meta = json.loads((folder / META).read_text())
    except json.JSONDecodeError as error:
        raise DataError(f"{folder / META} is not valid JSON: {error}") from error
    if not (folder / WEIGHTS).is_file():
        raise WeightsUnavailableError(f"{folder} has no {WEIGHTS}")
    if file_sha256(folder / WEIGHTS) != meta.get("weights_sha256"):
        raise DataError(f"{folder / WEIGHTS} does not match the sha256 recorded in {META}")
    return meta


@ENCODERS.register(
    "tuned",
    "sentence encoder fine-tuned by `headstart adapt --encoder`: tuned:<folder>",
    prefix=True,
)
def create_tuned(spec: str, device: str = "cpu") -> SentenceEncoder:
    """The fine-tuned body saved in folder `spec`."""
    meta = read_tuned(spec)
    base = EncoderCard.from_dict(meta["base_card"])
    model = load_sentence_model(str(Path(spec)), device, local=True)
    card = replace(
        base,
        name=f"{base.name}+tuned:{meta['weights_sha256'][:12]}",
        weights=f"{base.weights} fine-tuned by headstart",
        weights_sha256=meta["weights_sha256"],
        input_size=int(model.max_seq_length),
        extra={**base.extra, "base_card_sha256": base.digest(), "tuning": meta["settings"]},
    )
    return SentenceEncoder(card, model)
