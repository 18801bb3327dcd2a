"""IAM handwritten paragraphs: the handwritten part of a form, its lines joined by newlines.

Sizes follow FSDL (text_recognizer/metadata/iam_paragraphs.py): 576 x 640 holds every IAM
paragraph at about a quarter of the original scan resolution, and 682 tokens hold the
longest paragraph label plus <S> and <E>.

Mapping: the line mapping (``emnist.MAPPING``) plus one extra class, the newline. It is
appended LAST on purpose, so every index shared with line models keeps its meaning and a
line model's weights (or its decoded output) can be reused on paragraphs unchanged.
"""

from text_recognizer.metadata import emnist
from text_recognizer.metadata.shared import PROCESSED_DATA_DIRNAME

PROCESSED_DIRNAME = PROCESSED_DATA_DIRNAME / "iam_paragraphs"

NEW_LINE_TOKEN = "\n"
MAPPING = [*emnist.MAPPING, NEW_LINE_TOKEN]

IMAGE_HEIGHT, IMAGE_WIDTH = 576, 640
IMAGE_SHAPE = (IMAGE_HEIGHT, IMAGE_WIDTH)
DIMS = (1, IMAGE_HEIGHT, IMAGE_WIDTH)

MAX_LABEL_LENGTH = 682  # includes <S> and <E>
OUTPUT_DIMS = (MAX_LABEL_LENGTH, 1)

# Synthetic paragraphs (IAMSyntheticParagraphs): stacked real line crops.
MAX_SYNTHETIC_LINES = 12  # as FSDL; fewer than the longest real IAM paragraph
SYNTHETIC_SAMPLES = 4000  # synthetic paragraphs per epoch, in addition to the real ones
