"""Per-patch scores (a MIL model's attention) back on the slide: a thumbnail with the scores
painted over each patch's footprint and a colour bar in the scores' own units; the patches as
GeoJSON detections QuPath imports (the score as a measurement) and as CSV; the top-k and
bottom-k patches side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image, ImageDraw


def score_raster(
    shape: tuple[int, int], downsample: float, coords: np.ndarray, size0: int, scores: np.ndarray
) -> np.ndarray:
    """A (H, W) map on a thumbnail `downsample` times below level 0: each pixel the mean
    score of the patches covering it, NaN where none does."""
    total = np.zeros(shape, np.float64)
    count = np.zeros(shape, np.int32)
    height, width = shape
    for (x, y), score in zip(np.asarray(coords), np.asarray(scores, np.float64), strict=True):
        x0, y0 = int(x / downsample), int(y / downsample)
        x1 = min(width, max(x0 + 1, int(np.ceil((x + size0) / downsample))))
        y1 = min(height, max(y0 + 1, int(np.ceil((y + size0) / downsample))))
        total[y0:y1, x0:x1] += score
        count[y0:y1, x0:x1] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def paint_heatmap(
    thumbnail: np.ndarray,
    raster: np.ndarray,
    title: str,
    label: str = "attention",
    alpha: float = 0.5,
) -> np.ndarray:
    """The thumbnail with `raster` painted over it (viridis, `alpha`) and a colour bar (drawn
    on its own Agg canvas: the caller's matplotlib backend is left alone)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height, width = thumbnail.shape[:2]
    figure = Figure(figsize=(8, 8 * height / width + 0.6), dpi=110)
    canvas = FigureCanvasAgg(figure)
    axis = figure.add_subplot()
    axis.imshow(thumbnail)
    finite = raster[np.isfinite(raster)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    high = high if high > low else low + 1e-12  # one value everywhere: a flat colour bar
    shown = axis.imshow(
        np.ma.masked_invalid(raster), cmap="viridis", alpha=alpha, vmin=low, vmax=high
    )
    figure.colorbar(shown, ax=axis, fraction=0.046, pad=0.02, label=label)
    axis.set_title(title, fontsize=9)
    axis.set_axis_off()
    figure.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def patches_geojson(
    coords: np.ndarray, size0: int, scores: np.ndarray, measurement: str = "attention"
) -> dict[str, Any]:
    """Each patch as a level-0 square detection with its score and rank (1 = highest)."""
    ranks = rank_of(scores)
    features = []
    for (x, y), score, rank in zip(
        np.asarray(coords).tolist(), scores.tolist(), ranks, strict=True
    ):
        ring = [[x, y], [x + size0, y], [x + size0, y + size0], [x, y + size0], [x, y]]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "objectType": "detection",
                    "name": f"patch {x}_{y}",
                    "measurements": {measurement: float(score), f"{measurement} rank": int(rank)},
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def rank_of(scores: np.ndarray) -> list[int]:
    """1 for the highest score, 2 for the next, ... (ties broken by position)."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    ranks = np.empty(len(order), np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks.tolist()


def gallery(
    read: Callable[[int, int], np.ndarray],
    coords: np.ndarray,
    scores: np.ndarray,
    k: int,
    side: int = 160,
) -> np.ndarray:
    """Two rows of patches, the `k` highest scores above the `k` lowest, each captioned with
    its score; `read(x, y)` gives the RGB patch at level-0 (x, y)."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    k = min(k, len(order))
    rows = [("highest", order[:k]), ("lowest", order[::-1][:k])]
    caption = 18
    canvas = Image.new("RGB", (k * (side + 4) + 70, 2 * (side + caption + 4)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (name, picked) in enumerate(rows):
        top = r * (side + caption + 4)
        draw.text((4, top + side // 2), name, fill="black")
        for c, index in enumerate(picked):
            x, y = (int(v) for v in coords[index])
            patch = Image.fromarray(read(x, y)).resize((side, side), Image.Resampling.BILINEAR)
            left = 70 + c * (side + 4)
            canvas.paste(patch, (left, top))
            draw.text((left + 2, top + side + 2), f"{float(scores[index]):.3g}", fill="black")
    return np.asarray(canvas)
