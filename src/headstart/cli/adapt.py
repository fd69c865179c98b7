"""`headstart adapt` and `headstart store transform`: training an adapter, applying it."""

from __future__ import annotations

from pathlib import Path

import typer

from headstart import api
from headstart.cli.common import _options, app, console, store_app


@app.command()
def adapt(
    store: str = typer.Argument(..., help="a store; with --encoder, a text dataset"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for the adapter"),
    encoder: str | None = typer.Option(
        None, help="fine-tune this sentence encoder's body (SetFit-style) instead"
    ),
    shots: int | None = typer.Option(None, min=1, help="with --encoder: labelled texts per class"),
    loss: str = typer.Option("info-nce", help="registered contrastive loss"),
    loss_option: list[str] = typer.Option([], help="loss parameter key=value, e.g. tau=0.2"),
    adapter: str = typer.Option("residual", help="linear or residual"),
    adapter_option: list[str] = typer.Option([], help="adapter parameter, e.g. d_out=64"),
    positives: str = typer.Option("auto", help="auto, views, labels, neighbours or transitive"),
    background: Path | None = typer.Option(None, help="background store (sepclr)"),
    epochs: int | None = typer.Option(None, min=1, help="default 50 (1 with --encoder)"),
    batch_size: int | None = typer.Option(
        None, min=2, help="default 256 (16 pairs a step with --encoder)"
    ),
    pairs: str | None = typer.Option(
        None, help="with --encoder: setfit (SetFit's pair list, default) or in-batch"
    ),
    num_iterations: int | None = typer.Option(
        None, min=1, help="with --encoder: SetFit's budget, 2·N·texts pairs an epoch (20)"
    ),
    lr: float | None = typer.Option(None, min=0.0, help="default 1e-3 (2e-5 with --encoder)"),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Train a contrastive adapter on a store's non-test rows; saves JSON + safetensors. With
    --encoder, fine-tune a sentence encoder on a text dataset's labelled training texts and
    save it as an encoder of its own (embed with --encoder tuned:OUT)."""
    given = {"epochs": epochs, "batch_size": batch_size, "lr": lr}
    given = {k: v for k, v in given.items() if v is not None}
    tuning_only = {"pairs": pairs, "num_iterations": num_iterations}
    tuning_only = {k: v for k, v in tuning_only.items() if v is not None}
    if tuning_only and not encoder:
        names = ", ".join("--" + k.replace("_", "-") for k in tuning_only)
        raise typer.BadParameter(f"{names} only apply to fine-tuning a body (--encoder)")
    if encoder:
        tuning = api.TuneSettings(seed=seed, device=device, **given, **tuning_only)
        history = api.tune_encoder(store, out, encoder, shots, tuning, progress=not quiet)
        console.print(
            f"saved {encoder} fine-tuned on {history['texts']} texts ({history['steps']} steps) "
            f"to {out}; embed with --encoder tuned:{out}",
            markup=False,
        )
        return
    settings = api.AdaptSettings(
        loss=loss,
        loss_options=_options(loss_option),
        adapter=adapter,
        adapter_options=_options(adapter_option),
        positives=positives,
        seed=seed,
        device=device,
        **given,
    )
    history = api.adapt(store, out, settings, progress=not quiet, background=background)
    kept = history.get("kept_epoch", len(history["train"]))
    console.print(
        f"saved {adapter} adapter ({loss}, positives from {history['positives']}) to {out}; "
        f"kept epoch {kept} of {len(history['train'])}",
        markup=False,
    )


@store_app.command("transform")
def store_transform(
    store: Path,
    adapter: Path = typer.Option(..., help="a folder written by `headstart adapt`"),
    out: Path = typer.Option(..., "--out", "-o"),
) -> None:
    """Map a store's vectors through a saved adapter into a new store (its own key and card)."""
    new = api.transform(store, adapter, out)
    console.print(f"wrote {len(new):,} adapted vectors to {out} ({new.card.name})", markup=False)
