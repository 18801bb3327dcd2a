"""Input images of the evaluation store, content-addressed on disk.

An image is stored once, however often it is seen, at ``<root>/images/ab/abcdef....png``:
named by the SHA-256 of its canonical pixels (:func:`image_digest`), so the same upload
hashes the same whether it came as PNG or BMP, grayscale or gray-as-RGB, and a flag from
the UI finds its prediction through that hash. Files are written atomically: a reader sees
the whole image or none.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image

from text_recognizer.util import atomic_write


def canonical_image(image: Image.Image) -> Image.Image:
    """The canonical pixels behind an image's content address: alpha composited on white,
    ``L`` when the image has no color (even if stored as RGB), ``RGB`` otherwise.

    Why canonical: the UI may hand over RGB where the API got grayscale for the same
    upload; both must hash the same so a flag finds its prediction.

    >>> canonical_image(Image.new("RGB", (2, 2), (9, 9, 9))).mode
    'L'
    >>> canonical_image(Image.new("RGBA", (2, 2), (255, 0, 0, 255))).mode
    'RGB'
    """
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if image.mode == "L":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F", "1"):
        from text_recognizer.util import to_grayscale

        return to_grayscale(image)
    rgb = image.convert("RGB")
    red, green, blue = rgb.split()
    if red.tobytes() == green.tobytes() == blue.tobytes():
        return red  # gray pixels stored as RGB
    return rgb


def image_digest(image: Image.Image) -> str:
    """SHA-256 of an image's canonical pixels (mode, size and bytes), as hex.

    Hashing pixels rather than file bytes makes the address independent of the encoder:
    the same page saved as PNG or BMP, or decoded by Gradio, has one address.

    >>> a = Image.new("L", (3, 2), 200)
    >>> image_digest(a) == image_digest(a.convert("RGB")), len(image_digest(a))
    (True, 64)
    """
    image = canonical_image(image)
    header = f"{image.mode} {image.width}x{image.height}\n".encode()
    return hashlib.sha256(header + image.tobytes()).hexdigest()


def image_relpath(digest: str) -> str:
    """Where an image lives below the store root: two-character fan-out, then the hash.

    >>> image_relpath("abcdef0123")
    'images/ab/abcdef0123.png'
    """
    return f"images/{digest[:2]}/{digest}.png"


def write_image(root: Path, image: Image.Image) -> tuple[str, Path]:
    """Save ``image`` under its content address (once; atomically) -> (digest, path)."""
    canonical = canonical_image(image)
    digest = image_digest(canonical)
    path = Path(root) / image_relpath(digest)
    if not path.exists():
        with atomic_write(path, "wb") as file:  # readers see the whole file or none
            canonical.save(file, format="PNG")
    return digest, path
