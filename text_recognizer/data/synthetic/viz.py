"""Look at generated samples: a PIL contact sheet (scripts) or a labelled matplotlib grid
(notebooks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image


def _to_uint8(image: Any) -> np.ndarray:
    """A (H, W) uint8 array from a PIL image, an array or a tensor ((1, H, W) or (H, W);
    floats are taken to be in [0, 1])."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"))
    array = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image)
    array = array.squeeze()
    if array.dtype != np.uint8:
        array = np.clip(array.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return array


def make_grid_image(
    images: Sequence[Any], ncols: int = 16, pad: int = 2, scale: int = 1, background: int = 128
) -> Image.Image:
    """Tile images (any sizes) into one "L" image, ``ncols`` per row, top-left aligned.

    >>> make_grid_image([np.zeros((28, 28), np.uint8)] * 5, ncols=4, pad=2).size
    (122, 62)
    """
    arrays = [_to_uint8(image) for image in images]
    if not arrays:
        raise ValueError("make_grid_image needs at least one image")
    cell_h = max(a.shape[0] for a in arrays) + pad
    cell_w = max(a.shape[1] for a in arrays) + pad
    ncols = min(ncols, len(arrays))
    nrows = -(-len(arrays) // ncols)
    sheet = np.full((nrows * cell_h + pad, ncols * cell_w + pad), background, dtype=np.uint8)
    for k, array in enumerate(arrays):
        y, x = pad + (k // ncols) * cell_h, pad + (k % ncols) * cell_w
        sheet[y : y + array.shape[0], x : x + array.shape[1]] = array
    grid = Image.fromarray(sheet)
    return (
        grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST) if scale > 1 else grid
    )


def show_sample_grid(
    images: Sequence[Any],
    labels: Sequence[Any] | None = None,
    mapping: Sequence[str] | None = None,
    ncols: int = 10,
    size: float = 1.2,
):
    """A matplotlib Figure of images with their labels as titles (for notebooks).

    ``labels`` may be class indices (decoded with ``mapping``) or strings. Images can be
    (N, 1, H, W) tensors in [0, 1], uint8 arrays or PIL images (e.g. lines of any width).
    """
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    arrays = [_to_uint8(image) for image in images]
    aspect = max(a.shape[1] / a.shape[0] for a in arrays) if arrays else 1.0
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(ncols * size * min(aspect, 8), nrows * size * 1.15), squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(arrays[k], cmap="gray", vmin=0, vmax=255)
        if labels is not None:
            label = labels[k]
            label = label.item() if hasattr(label, "item") else label
            text = (
                mapping[int(label)]
                if mapping is not None and not isinstance(label, str)
                else str(label)
            )
            ax.set_title(text, fontsize=9)
    fig.tight_layout()
    return fig
