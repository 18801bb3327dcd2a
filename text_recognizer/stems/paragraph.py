"""The stem for images of a PARAGRAPH (several lines: IAM paragraphs, synthetic pages,
user photos of a note).

The image is scaled to fit inside the box (default 576 x 640, IAM paragraphs) keeping its
aspect ratio, and placed at the top-left corner, where reading starts. Unlike FSDL's
paragraph stem, which center-cropped to the box, nothing is ever cropped: a long page is
shrunk instead, because a label that mentions text the image no longer shows teaches the
model to invent text.
"""

from __future__ import annotations

from text_recognizer.metadata import iam_paragraphs
from text_recognizer.stems.image import Augmentation, BoxStem

# Smaller angles than for lines: a rotated page moves its last lines the most.
PARAGRAPH_AUGMENTATION = Augmentation(
    degrees=1.5, shear=8.0, stretch=(0.9, 1.1), scale=(0.85, 1.0), max_shift=0.05
)


class ParagraphStem(BoxStem):
    """PIL paragraph image (natural polarity, any mode/size) -> ``(1, image_height, image_width)``.

    >>> from PIL import Image
    >>> x = ParagraphStem(image_height=64, image_width=48)(Image.new("RGB", (300, 500), "white"))
    >>> tuple(x.shape)
    (1, 64, 48)
    """

    default_augmentation = PARAGRAPH_AUGMENTATION

    def __init__(
        self,
        image_height: int = iam_paragraphs.IMAGE_HEIGHT,
        image_width: int = iam_paragraphs.IMAGE_WIDTH,
        augment: bool = False,
        augmentation: Augmentation | None = None,
        normalize: bool = True,
    ) -> None:
        super().__init__(
            image_height,
            image_width,
            augment=augment,
            augmentation=augmentation,
            normalize=normalize,
        )
