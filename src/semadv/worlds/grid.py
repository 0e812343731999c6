"""Write labelled image grids (PNG) for looking at worlds and results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

#: label-map colours for the streets classes (sky, road, sidewalk, building, vegetation, car, person, cyclist)
LABEL_COLORS = torch.tensor(
    [
        (0.4, 0.6, 1.0),
        (0.3, 0.3, 0.3),
        (0.8, 0.7, 0.7),
        (0.6, 0.4, 0.3),
        (0.2, 0.7, 0.2),
        (0.0, 0.0, 0.9),
        (0.9, 0.1, 0.1),
        (0.9, 0.9, 0.1),
    ]
)


def to_pil(img: torch.Tensor) -> Image.Image:
    """(3, H, W) or (1, H, W) in [0, 1] → PIL RGB image."""
    x = img.detach().cpu().clamp(0, 1)
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return Image.fromarray((x.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))


def save_grid(
    images: torch.Tensor,
    path: str | Path,
    ncol: int = 8,
    scale: int = 3,
    captions: list[str] | None = None,
    points: torch.Tensor | None = None,
    boxes: torch.Tensor | None = None,
    label_maps: torch.Tensor | None = None,
) -> Path:
    """Save ``images`` (B, C, H, W) as a grid; optional per-image captions, points (B, K, 2) and boxes
    (B, K, 4) in pixels, and label maps (B, H, W) shown beside each image."""
    B, _, H, W = images.shape
    tiles = []
    for i in range(B):
        tile = to_pil(images[i])
        if label_maps is not None:
            lab = to_pil(LABEL_COLORS[label_maps[i].cpu().clamp(0, len(LABEL_COLORS) - 1)].permute(2, 0, 1))
            both = Image.new("RGB", (2 * W, H))
            both.paste(tile, (0, 0))
            both.paste(lab, (W, 0))
            tile = both
        tile = tile.resize((tile.width * scale, tile.height * scale), Image.Resampling.NEAREST)
        d = ImageDraw.Draw(tile)
        if points is not None:
            for x, y in points[i].tolist():
                d.ellipse([x * scale - 2, y * scale - 2, x * scale + 2, y * scale + 2], fill=(255, 40, 40))
        if boxes is not None:
            for b in boxes[i].tolist():
                if not any(v != v for v in b):  # skip NaN boxes
                    d.rectangle([b[0] * scale, b[1] * scale, b[2] * scale - 1, b[3] * scale - 1], outline=(255, 255, 0))
        if captions is not None:
            d.text((3, 2), captions[i], fill=(255, 255, 255))
        tiles.append(tile)
    tw, th = tiles[0].size
    rows = (B + ncol - 1) // ncol
    sheet = Image.new("RGB", (ncol * tw, rows * th), (255, 255, 255))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % ncol) * tw, (i // ncol) * th))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out
