"""helpers.shapes draws a deterministic picture set; helpers.images converts pictures without loss."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from helpers.images import data_url, from_png, on_checkerboard, png_size, to_png
from helpers.shape_dataset import COLOURS, SHAPES, SIZE, caption, draw, make_dataset, shape_mask


def test_dataset_is_seeded_and_captioned() -> None:
    images, captions = make_dataset([("red", "circle"), ("blue", "cross")], per_pair=3, seed=5)
    again, _ = make_dataset([("red", "circle"), ("blue", "cross")], per_pair=3, seed=5)
    other, _ = make_dataset([("red", "circle"), ("blue", "cross")], per_pair=3, seed=6)
    assert images.shape == (6, SIZE, SIZE, 3) and images.dtype == np.float32
    assert captions == ["a red circle"] * 3 + ["a blue cross"] * 3
    assert np.array_equal(images, again) and not np.array_equal(images, other)
    assert images.min() >= 0 and images.max() <= 1


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_covers_a_reasonable_area(shape: str) -> None:
    area = shape_mask(shape, SIZE, SIZE / 2, SIZE / 2, SIZE * 0.3).mean()
    assert 0.05 < area < 0.5


def test_the_shape_takes_its_colour() -> None:
    picture = draw("blue", "square", np.random.default_rng(0))
    centre = picture[SIZE // 2, SIZE // 2]
    assert centre[2] > centre[0] + 0.3  # blue channel dominates inside the shape
    assert caption("green", "triangle") == "a green triangle" and "green" in COLOURS


def test_unknown_shape_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown shape"):
        shape_mask("star", SIZE, 1, 1, 1)


def test_png_round_trip_rgb_and_rgba() -> None:
    rgb = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
    png = to_png(rgb)
    assert png_size(png) == (5, 4)
    assert np.array_equal(from_png(png), rgb)
    rgba = np.dstack([rgb, np.full((4, 5), 255, np.uint8)])
    rgba[0, 0, 3] = 0
    decoded = from_png(to_png(rgba))
    assert decoded.shape == (4, 5, 4) and decoded[0, 0, 3] == 0


def test_float_arrays_are_scaled_and_bad_shapes_refused() -> None:
    assert from_png(to_png(np.ones((2, 2, 3))))[0, 0].tolist() == [255, 255, 255]
    with pytest.raises(ValueError):
        to_png(np.zeros((2, 2)))
    with pytest.raises(ValueError):
        png_size(b"GIF89a")


def test_data_url_and_checkerboard() -> None:
    url = data_url(b"\x89PNG")
    assert url.startswith("data:image/png;base64,") and base64.b64decode(url.split(",")[1]) == b"\x89PNG"
    clear = np.zeros((16, 16, 4), np.uint8)
    board = on_checkerboard(clear)
    assert board.shape == (16, 16, 3) and set(np.unique(board.round(2))) == {0.6, 0.8}
