"""MNIST: 28x28 grayscale digits, 60k train (split 55k/5k) + 10k test."""

BASE_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
# SHA-256 of the canonical gzipped IDX files (identical on every mirror).
FILES = {
    "train_images": (
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train_labels": (
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "test_images": (
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "test_labels": (
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}

DIMS = (1, 28, 28)
OUTPUT_DIMS = (1,)
MAPPING = list(range(10))
VAL_FRACTION = 5000 / 60000
