"""Image chores for the vision and image lessons: arrays to PNG bytes and back, data URLs, small grids.

The lessons make every API call themselves (``client.images.generate``, ``b64_json`` decoding...);
this module only converts and draws::

    png = to_png(array)                    # numpy (H, W, 3 or 4) -> PNG bytes
    url = data_url(png)                    # 'data:image/png;base64,...' for an image input
    show_grid([png, png2], ["first", "second"])
"""

from __future__ import annotations

import base64
import io
import struct
import textwrap
from collections.abc import Sequence

import numpy as np
from PIL import Image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def to_png(array: np.ndarray) -> bytes:
    """PNG bytes of an ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA array (floats in [0, 1], or uint8)."""
    data = np.asarray(array)
    if data.dtype != np.uint8:
        data = (np.clip(data, 0, 1) * 255).round().astype(np.uint8)
    if data.ndim != 3 or data.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) or (H, W, 4) array, got shape {data.shape}")
    buffer = io.BytesIO()
    Image.fromarray(data, "RGBA" if data.shape[2] == 4 else "RGB").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def from_png(png: bytes) -> np.ndarray:
    """The pixels of PNG (or JPEG/WebP) bytes as a uint8 array, RGB or RGBA as stored."""
    with Image.open(io.BytesIO(png)) as picture:
        transparent = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
        mode = "RGBA" if transparent else "RGB"
        return np.asarray(picture.convert(mode))


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) read from a PNG header, without decoding the picture."""
    if not png.startswith(PNG_MAGIC):
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def data_url(image: bytes, mime: str = "image/png") -> str:
    """A ``data:`` URL holding ``image``, the form image inputs accept instead of a web address."""
    return f"data:{mime};base64,{base64.b64encode(image).decode('ascii')}"


def on_checkerboard(rgba: np.ndarray, square: int = 8) -> np.ndarray:
    """An RGBA array composited over a grey checkerboard, so transparent areas show as a pattern."""
    data: np.ndarray = np.asarray(rgba, dtype=np.float32)
    if data.max() > 1:
        data = data / 255
    h, w = data.shape[:2]
    y, x = np.mgrid[0:h, 0:w]
    board = np.where(((y // square) + (x // square)) % 2 == 0, 0.8, 0.6)[..., None]
    alpha = data[..., 3:4]
    return data[..., :3] * alpha + board * (1 - alpha)


def show_grid(
    pictures: Sequence[bytes | np.ndarray], titles: Sequence[str] = (), columns: int = 4, width: float = 2.6,
    wrap: int = 28,
) -> None:
    """Draw pictures (PNG bytes or arrays) side by side with wrapped titles, in one matplotlib figure."""
    import matplotlib.pyplot as plt

    count = len(pictures)
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, (width + 0.5) * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= count:
            continue
        picture = pictures[i]
        ax.imshow(from_png(picture) if isinstance(picture, bytes) else picture, interpolation="nearest")
        if i < len(titles):
            ax.set_title("\n".join(textwrap.wrap(titles[i], wrap)), fontsize=9)
    fig.tight_layout()
    plt.show()
