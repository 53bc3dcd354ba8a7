"""The name lesson 13 imports: the synthetic shape pictures and captions now live in :mod:`helpers.shape_dataset`."""

from .shape_dataset import COLOURS, SHAPES, SIZE, caption, draw, make_dataset, shape_mask

__all__ = ["COLOURS", "SHAPES", "SIZE", "caption", "draw", "make_dataset", "shape_mask"]
