"""IAM handwritten lines: one image per line of a form, one string per image.

Sizes follow FSDL (text_recognizer/metadata/iam_lines.py): line crops of the half-size
forms are about 60-150 px tall; the stem rescales them to 56 px (half of FSDL's 112) and
pads them to 1024 px wide, enough for the longest IAM line at that height. Every size
is a constructor/CLI argument, so CPU runs can shrink it while running the same code.
"""

from text_recognizer.metadata import emnist
from text_recognizer.metadata.shared import PROCESSED_DATA_DIRNAME

PROCESSED_DIRNAME = PROCESSED_DATA_DIRNAME / "iam_lines"

IMAGE_HEIGHT = 56
IMAGE_WIDTH = 1024
DIMS = (1, IMAGE_HEIGHT, IMAGE_WIDTH)

# The longest IAM line label plus <S> and <E> (FSDL checks 89 == longest + 2).
MAX_LABEL_LENGTH = 89
OUTPUT_DIMS = (MAX_LABEL_LENGTH, 1)

# Lines never contain a newline, so they share the character mapping of every other model.
MAPPING = emnist.MAPPING
