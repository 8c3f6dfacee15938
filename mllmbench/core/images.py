"""Opening image files for a sample, with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mllmbench.core.errors import InputError

if TYPE_CHECKING:
    from PIL.Image import Image


def open_rgb(path: str | Path) -> Image:
    """Open an image file fully and convert it to RGB; raise `InputError` naming the file."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"image file not found: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"image file is empty (0 bytes): {p}")
    try:
        with PILImage.open(p) as im:
            im.load()
            return im.convert("RGB")
    except UnidentifiedImageError:
        raise InputError(f"not an image file PIL can read: {p}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"corrupt or truncated image {p}: {exc}") from None
