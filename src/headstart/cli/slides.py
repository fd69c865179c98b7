"""`headstart slides make|embed|heatmap`: whole-slide images → bag store → heat maps."""

from __future__ import annotations

from pathlib import Path

import typer

from headstart import api
from headstart.cli.common import _options, _split, app, console

slides_app = typer.Typer(
    help="Whole-slide images: tissue, patches, bags, heat maps.", no_args_is_help=True
)
app.add_typer(slides_app, name="slides")


@slides_app.command("make")
def slides_make(
    out: Path = typer.Option(..., "--out", "-o", help="folder for the generated slides"),
    slides: int = typer.Option(24, min=2, help="how many slides (half of the patients positive)"),
    size: int = typer.Option(8192, min=256, help="level-0 side in pixels"),
    mpp: float = typer.Option(0.5, help="microns per pixel at level 0"),
    seed: int = typer.Option(0),
) -> None:
    """Generate pyramidal TIFF slides (real micrograph texture, pen marks, planted regions in
    positive slides) with labels.csv and the truth, to try the slide workflow on."""
    folder = api.make_slides(out, slides, size, seed, mpp)
    console.print(f"{slides} slides, labels.csv and truth/ in {folder}")


@slides_app.command("embed")
def slides_embed(
    slides: Path = typer.Argument(..., help="a folder of slides (svs, ndpi, mrxs, tif, ...)"),
    encoder: str = typer.Option("efficientnet-lite0", help="any registered image encoder"),
    out: Path = typer.Option(..., "--out", "-o", help="the bag store folder"),
    size: int = typer.Option(256, help="patch side in pixels, at --mpp"),
    mpp: float = typer.Option(0.5, help="microns per pixel of the patches"),
    stride: int | None = typer.Option(None, help="pixels between patches (default: --size)"),
    min_tissue: float = typer.Option(0.25, help="share of a patch that must be tissue"),
    preset: str = typer.Option(
        "default", help="tissue preset: default, clam, bwh_biopsy, bwh_resection, tcga"
    ),
    tissue: list[str] = typer.Option([], help="preset parameter overrides, e.g. sthresh=15"),
    slide_mpp: str | None = typer.Option(
        None, help="µm/px for slides that record none: a number, or a slide_id,mpp CSV"
    ),
    backend: str = typer.Option(
        "auto", help="auto (OpenSlide, else tiffslide), openslide, tiffslide"
    ),
    engine: str = typer.Option("local", help="local, or ray (one task per slide)"),
    ray_address: str | None = typer.Option(None, help="an existing Ray cluster (ray engine)"),
    concurrency: int = typer.Option(1, help="slides at a time (ray engine)"),
    overwrite: bool = typer.Option(False, help="replace a bag store of another encoder/recipe"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
) -> None:
    """Tissue → patches → features → a bag store (+ CLAM/TRIDENT .h5 per slide); resumable."""
    engine_options = None
    if engine == "ray":
        engine_options = {"address": ray_address, "concurrency": concurrency}
    elif ray_address is not None or concurrency != 1:
        raise typer.BadParameter("--ray-address and --concurrency apply to --engine ray only")
    record = api.embed_slides(
        slides,
        encoder,
        out,
        size=size,
        mpp=mpp,
        stride=stride,
        min_tissue=min_tissue,
        preset=preset,
        tissue_options=_options(tissue),
        slide_mpp=slide_mpp,
        backend=backend,
        engine=engine,
        engine_options=engine_options,
        overwrite=overwrite,
        progress=not quiet,
    )
    done = [s for s in record["slides"] if s["status"] == "done"]
    skipped = [s for s in record["slides"] if s["status"] != "done"]
    patches = sum(s["patches"] for s in done)
    unreadable = sum(s["unreadable"] for s in done)
    console.print(
        f"{len(done)} slides embedded ({patches:,} patches, {unreadable} unreadable patches "
        f"skipped) into {out}; {len(skipped)} slides skipped"
    )
    for slide in skipped:
        console.print(f"  skipped {slide['id']}: {slide['reason']}", highlight=False)


@slides_app.command("heatmap")
def slides_heatmap(
    model: Path = typer.Argument(..., help="a MIL model saved by headstart mil fit"),
    bags: Path = typer.Argument(..., help="the bag store it reads"),
    out: Path = typer.Option(..., "--out", "-o", help="folder for the heat maps"),
    slides: str = typer.Option("", help="slide ids, comma-separated (default: all)"),
    top: int = typer.Option(8, help="patches in each gallery row (highest, lowest)"),
    slides_dir: Path | None = typer.Option(None, help="where the slide files are now, if moved"),
) -> None:
    """Attention heat maps on the slides (PNG), GeoJSON/CSV for QuPath, top/bottom patches."""
    summary = api.slide_heatmaps(model, bags, out, _split(slides), top, slides_dir)
    console.print(f"{len(summary['slides'])} slides → {out}/heatmaps.json")
