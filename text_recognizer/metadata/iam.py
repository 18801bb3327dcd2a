"""The IAM Handwriting Database, as mirrored by Full Stack Deep Learning (FSDL).

IAM (Marti & Bunke, IJDAR 2002; https://fki.tic.heia-fr.ch/databases/iam-handwriting-database)
holds 1,539 scanned forms by 657 writers: a machine-printed prompt at the top and the same
text handwritten below it. Each form has an XML file that transcribes every handwritten line
and gives the bounding box of every connected component ("cmp") of every word.

We download FSDL's repackaging, ``iamdb.zip`` (URL and SHA-256 from FSDL's
``data/raw/iam/metadata.toml`` in the-full-stack/fsdl-text-recognizer-2022), laid out as::

    iamdb/forms/<form id>.jpg     form scans, grayscale, resized to HALF the original size
    iamdb/xml/<form id>.xml       IAM's XML, coordinates at the ORIGINAL size
    iamdb/task/*.txt              the "Large Writer Independent Text Line Recognition Task"
                                  (LWITLRT) split: one line id per row, e.g. ``a01-000u-00``

Because the JPEGs were downsampled (ImageMagick ``-adaptive-resize 50%``), XML coordinates
are divided by ``DOWNSAMPLE_FACTOR`` before cropping.
"""

from text_recognizer.metadata.shared import DOWNLOADED_DATA_DIRNAME

URL = "https://s3-us-west-2.amazonaws.com/fsdl-public-assets/iam/iamdb.zip"
FILENAME = "iamdb.zip"
SHA256 = "f3c9e87a88a313e557c6d3548ed8a2a1af2dc3c4a678c5f3fc6f972ba4a50c55"

DL_DATA_DIRNAME = DOWNLOADED_DATA_DIRNAME / "iam"
EXTRACTED_DIRNAME = "iamdb"  # the zip's top-level folder

DOWNSAMPLE_FACTOR = 2  # the forms are stored at half size; XML coordinates are full size
# Pixels (at the stored size) added around each line's ink box. Vertically the padding is
# capped at half the gap to the neighbouring line, so crops do not show parts of other lines.
# Values as in FSDL's text_recognizer/metadata/iam.py.
LINE_REGION_PADDING_X = 8
LINE_REGION_PADDING_Y = 8

# LWITLRT split files (in iamdb/task/). Following FSDL, validation sets 1 and 2 are merged
# and every form listed in neither the validation nor the test files goes to training.
TEST_SPLIT_FILES = ("testset.txt",)
VAL_SPLIT_FILES = ("validationset1.txt", "validationset2.txt")
SPLITS = ("train", "val", "test")
