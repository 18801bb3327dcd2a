"""The stem for images of ONE line of text (IAM lines, synthetic lines, user crops).

A line is scaled to the box height (default 56 px, IAM lines) keeping its aspect ratio,
then left-aligned and vertically centred in a box of fixed width (default 1024 px). A line
too long for the width at full height is scaled down further, so it is never truncated:
a recognizer trained on cut-off text learns to hallucinate the missing end.
"""

from __future__ import annotations

from text_recognizer.metadata import iam_lines
from text_recognizer.stems.image import Augmentation, BoxStem

# Handwriting varies most in slant and letter width: shear and stretch carry most of it.
LINE_AUGMENTATION = Augmentation(
    degrees=1.5, shear=15.0, stretch=(0.85, 1.15), scale=(0.8, 1.0), max_shift=0.05
)


class LineStem(BoxStem):
    """PIL line image (natural polarity, any mode/size) -> ``(1, image_height, image_width)``.

    >>> from PIL import Image
    >>> x = LineStem(image_height=28, image_width=256)(Image.new("L", (600, 40), 255))
    >>> tuple(x.shape)
    (1, 28, 256)
    """

    default_augmentation = LINE_AUGMENTATION

    def __init__(
        self,
        image_height: int = iam_lines.IMAGE_HEIGHT,
        image_width: int = iam_lines.IMAGE_WIDTH,
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

    def placement(self, slack_x: int, slack_y: int) -> tuple[int, int]:
        """Left-aligned (text starts at x = 0), vertically centred."""
        return 0, slack_y // 2
