"""A synthetic image/caption set for the toy CLIP of lesson 13: small pictures of coloured shapes.

Each picture is drawn with numpy and captioned in the same words a learner would use::

    images, captions = make_dataset([("red", "circle"), ("blue", "square")], per_pair=5, seed=0)
    captions[0]                      # 'a red circle'

Drawing is all this module does; the encoders and their training loop live in the notebook.
Positions, sizes, colours and background noise are jittered from a seeded generator, so the
same seed always gives the same pictures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SIZE = 24  # pixels per side
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.15, 0.15),
    "green": (0.15, 0.65, 0.2),
    "blue": (0.15, 0.3, 0.85),
    "yellow": (0.9, 0.8, 0.1),
    "purple": (0.55, 0.2, 0.7),
}
SHAPES = ("circle", "square", "triangle", "cross")


def caption(colour: str, shape: str) -> str:
    """The caption of a picture: ``'a red circle'``."""
    return f"a {colour} {shape}"


def shape_mask(shape: str, size: int, cx: float, cy: float, r: float) -> np.ndarray:
    """A boolean ``size x size`` mask of ``shape`` centred at (cx, cy) with half-width ``r`` (pixels)."""
    y, x = np.mgrid[0:size, 0:size] + 0.5
    dx, dy = x - cx, y - cy
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        return (np.abs(dx) <= r * 0.85) & (np.abs(dy) <= r * 0.85)
    if shape == "triangle":  # pointing up: apex at the top, base at the bottom
        inside_y = (dy >= -r) & (dy <= r)
        half_width = (dy + r) / 2  # 0 at the apex, r at the base
        return inside_y & (np.abs(dx) <= half_width)
    if shape == "cross":
        arm = r * 0.35
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    raise ValueError(f"unknown shape {shape!r}; choose from {SHAPES}")


def draw(colour: str, shape: str, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """One ``size x size x 3`` float picture in [0, 1]: a jittered coloured shape on a noisy light background."""
    r = rng.uniform(0.25, 0.38) * size
    cx, cy = size / 2 + rng.uniform(-2, 2, 2)
    background = 0.92 + rng.normal(0, 0.03, (size, size, 1))
    picture = np.repeat(background, 3, axis=2)
    tint = np.clip(np.array(COLOURS[colour]) + rng.normal(0, 0.05, 3), 0, 1)
    picture[shape_mask(shape, size, cx, cy, r)] = tint
    picture += rng.normal(0, 0.02, picture.shape)
    return np.clip(picture, 0, 1).astype(np.float32)


def make_dataset(
    pairs: Sequence[tuple[str, str]], per_pair: int, seed: int, size: int = SIZE
) -> tuple[np.ndarray, list[str]]:
    """``per_pair`` pictures of each (colour, shape) pair: an ``(N, size, size, 3)`` array and N captions."""
    rng = np.random.default_rng(seed)
    images, captions = [], []
    for colour, shape in pairs:
        for _ in range(per_pair):
            images.append(draw(colour, shape, rng, size))
            captions.append(caption(colour, shape))
    return np.stack(images), captions
