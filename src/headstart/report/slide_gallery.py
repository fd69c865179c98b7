"""The report's slide section: what `headstart slides heatmap` wrote, inlined (each slide's
attention heat map beside its top and bottom patches)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from headstart.exceptions import DataError

INDEX = "heatmaps.json"


def png_cell(path: Path, alt: str) -> str:
    """A table cell with the PNG at `path` inlined (the report is one offline file)."""
    data = base64.b64encode(path.read_bytes()).decode()
    return (
        f"<td><img class='figure heat' alt='{html.escape(alt)}' "
        f"src='data:image/png;base64,{data}'></td>"
    )


def slide_section(folder: str | Path) -> str:
    """HTML of the heat maps in `folder` (its heatmaps.json names the files)."""
    folder = Path(folder)
    index = folder / INDEX
    if not index.is_file():
        raise DataError(
            f"{folder} holds no {INDEX}; write one with headstart slides heatmap MODEL BAGS -o "
            "FOLDER"
        )
    record = json.loads(index.read_text())
    rows = []
    for slide in record.get("slides", []):
        cells = []
        for key in ("heatmap", "gallery"):
            path = folder / Path(str(slide[key])).name  # inside the folder only
            if not path.is_file():
                raise DataError(f"{index} names {path.name}, which is not in {folder}")
            cells.append(png_cell(path, f"{key} of {slide['id']}"))
        caption = (
            f"{html.escape(slide['id'])}<br>{html.escape(str(slide['predicted']))} "
            f"({float(slide['probability']):.2f})<br>{int(slide['patches'])} patches"
        )
        rows.append(f"<tr><td>{caption}</td>{''.join(cells)}</tr>")
    return (
        "<section id='slides'><h2>Where the model looks on the slides</h2><p class='method'>"
        f"Attention of {html.escape(str(record.get('aggregator')))} "
        f"({html.escape(str(record.get('model')))}) over each slide's patches "
        f"({html.escape(str(record.get('encoder')))} features), painted on the slide, and the "
        "patches it weighs most and least. GeoJSON and CSV of every patch's attention, for "
        f"QuPath, are beside the images in {html.escape(str(folder))}.</p>"
        "<table><tr><th>slide</th><th>attention</th><th>highest / lowest patches</th></tr>"
        f"{''.join(rows)}</table></section>"
    )
