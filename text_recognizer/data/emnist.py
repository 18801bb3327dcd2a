"""EMNIST "byclass": 814,255 real handwritten characters (digits, upper and lower case).

Real download code: NIST's ``matlab.zip`` (URL + SHA-256 + cache + atomic write), the same
path MNIST takes. ``prepare_data`` downloads the zip once (about 700 MB), reads
``matlab/emnist-byclass.mat``, turns the images upright, maps the 62 EMNIST labels onto the
course's character mapping (``metadata.emnist.MAPPING``), optionally balances the classes and
saves one ``.npz``. ``setup`` splits train into train/val.

Offline, use ``SyntheticCharacters`` (rendered locally) instead. ``--emnist_url`` (or the
``TEXT_RECOGNIZER_EMNIST_URL`` environment variable) points at a mirror of the same file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from text_recognizer.data.base_data_module import BaseDataModule
from text_recognizer.data.download import ChecksumError, DownloadError, download_file
from text_recognizer.data.util import BaseDataset, split_dataset
from text_recognizer.metadata import emnist as metadata
from text_recognizer.metadata.shared import DOWNLOADED_DATA_DIRNAME, PROCESSED_DATA_DIRNAME
from text_recognizer.util import atomic_write

# The original file on NIST's site, then Full Stack Deep Learning's copy of it on S3 (their
# repository's data/raw/emnist/readme.md: "We uploaded the same file to our S3 bucket").
URLS = (
    "https://biometrics.nist.gov/cs_links/EMNIST/matlab.zip",
    "https://s3-us-west-2.amazonaws.com/fsdl-public-assets/matlab.zip",
)
# SHA-256 of matlab.zip as pinned by JuliaML/MLDatasets.jl (src/datasets/vision/emnist.jl,
# its DataDep for http://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/matlab.zip). It could not
# be re-computed here (no network); a mismatch raises ChecksumError and keeps nothing.
SHA256 = "e1fa805cdeae699a52da0b77c2db17f6feb77eed125f9b45c022e7990444df95"
ZIP_FILENAME = "matlab.zip"
MAT_MEMBER = "matlab/emnist-byclass.mat"

OFFLINE_ALTERNATIVE = "--data_class SyntheticCharacters (characters rendered locally)"
VAL_FRACTION = 0.1
BALANCE_SEED = 42  # fixed, so the processed file does not depend on the experiment's seed


def byclass_to_mapping_indices(labels: np.ndarray, mat_mapping: np.ndarray) -> np.ndarray:
    """Map EMNIST labels to indices of ``metadata.emnist.MAPPING`` via the file's own table.

    ``mat_mapping`` is ``dataset.mapping`` from the .mat file: rows of (label, ASCII code).
    For byclass this is 0-9, A-Z, a-z, i.e. our index is the label plus the 4 special tokens.

    >>> table = np.array([[0, ord("0")], [1, ord("A")], [2, ord("a")]])
    >>> [metadata.MAPPING[i] for i in byclass_to_mapping_indices(np.array([2, 0, 1]), table)]
    ['a', '0', 'A']
    """
    lookup = np.full(int(mat_mapping[:, 0].max()) + 1, -1, dtype=np.int64)
    for label, code in mat_mapping[:, :2].astype(np.int64):
        lookup[label] = metadata.INVERSE_MAPPING[chr(code)]
    indices = lookup[np.asarray(labels, dtype=np.int64).reshape(-1)]
    if (indices < 0).any():
        raise ValueError("EMNIST labels outside the file's mapping table")
    return indices


def balance_indices(labels: np.ndarray, seed: int = BALANCE_SEED) -> np.ndarray:
    """Indices that keep at most the mean class count of each class (sampled, sorted).

    EMNIST byclass is very unbalanced (digits are ~10x more common than most letters);
    capping frequent classes stops a model from learning "guess a digit".

    >>> labels = np.array([0] * 6 + [1] * 2)  # mean count is 4
    >>> np.bincount(labels[balance_indices(labels)]).tolist()
    [4, 2]
    """
    rng = np.random.default_rng(seed)
    cap = int(np.bincount(labels).sum() / len(np.unique(labels)))
    keep = []
    for label in np.unique(labels):
        (where,) = np.nonzero(labels == label)
        keep.append(rng.choice(where, size=min(cap, len(where)), replace=False))
    return np.sort(np.concatenate(keep))


def matlab_to_upright(images: np.ndarray) -> np.ndarray:
    """(N, 784) rows as stored in the .mat file -> (N, 28, 28) upright images.

    MATLAB stores each 28x28 image column by column, so reading a row in C order gives the
    image transposed; swapping the last two axes fixes it.

    >>> upright = np.arange(2 * 28 * 28).reshape(2, 28, 28)
    >>> stored = upright.transpose(0, 2, 1).reshape(2, -1)  # what the .mat file holds
    >>> bool((matlab_to_upright(stored) == upright).all())
    True
    """
    height, width = metadata.DIMS[1:]
    return np.ascontiguousarray(images.reshape(-1, width, height).swapaxes(1, 2))


def read_emnist_mat(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read ``emnist-byclass.mat``: upright uint8 images (N, 28, 28), int64 mapping indices."""
    from scipy.io import loadmat  # scipy is heavy; only needed once, when processing

    dataset = loadmat(path)["dataset"][0, 0]  # a MATLAB struct: fields train, test, mapping
    mat_mapping = dataset["mapping"]
    arrays = {}
    for split in ("train", "test"):
        fields = dataset[split][0, 0]
        arrays[f"{split}_images"] = matlab_to_upright(fields["images"]).astype(np.uint8)
        arrays[f"{split}_labels"] = byclass_to_mapping_indices(fields["labels"], mat_mapping)
    return arrays


def read_emnist_zip(zip_path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Extract ``matlab/emnist-byclass.mat`` to a temporary file and read it."""
    with zipfile.ZipFile(zip_path) as archive:
        if MAT_MEMBER not in archive.namelist():
            raise ValueError(f"{zip_path} does not contain {MAT_MEMBER}: not EMNIST's matlab.zip")
        with tempfile.TemporaryDirectory(dir=Path(zip_path).parent) as tmp:
            return read_emnist_mat(archive.extract(MAT_MEMBER, tmp))


def _to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 (1, 28, 28) -> float in [0, 1]; kept uint8 in memory (4x smaller)."""
    return image.float().div(255)


class EMNIST(BaseDataModule):
    """EMNIST byclass characters (28x28, ink bright on black), labelled with ``MAPPING``."""

    def __init__(self, args: argparse.Namespace | dict | None = None) -> None:
        super().__init__(args)
        env_url = os.environ.get("TEXT_RECOGNIZER_EMNIST_URL")
        url = self.args.get("emnist_url") or env_url
        self.urls = (url,) if url else URLS
        self.sha256 = self.args.get("emnist_sha256", SHA256)  # tests swap in their fixture's
        self.balance = self.args.get("emnist_balance", True)
        self.download_dir = Path(self.args.get("download_dir", DOWNLOADED_DATA_DIRNAME / "emnist"))
        default_name = "byclass_balanced.npz" if self.balance else "byclass.npz"
        self.processed_path = Path(
            self.args.get("processed_path", PROCESSED_DATA_DIRNAME / "emnist" / default_name)
        )
        self.seed = self.args.get("seed", 0)
        self.input_dims = metadata.DIMS
        self.output_dims = metadata.OUTPUT_DIMS
        self.mapping = metadata.MAPPING

    @staticmethod
    def add_to_argparse(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        BaseDataModule.add_to_argparse(parser)
        parser.add_argument(
            "--emnist_url",
            type=str,
            default=None,
            help="mirror of NIST's matlab.zip (default: NIST, then FSDL's copy)",
        )
        parser.add_argument(
            "--emnist_balance",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="cap every class at the mean class count",
        )
        return parser

    def download(self) -> Path:
        """Download (or find in the cache) matlab.zip, trying each URL in turn.

        A mirror that fails, or serves other bytes (e.g. an HTML page after a moved link),
        is skipped; if all fail, the error lists every attempt.
        """
        errors: list[DownloadError] = []
        for url in self.urls:
            try:
                return download_file(
                    url,
                    self.sha256,
                    self.download_dir,
                    filename=ZIP_FILENAME,
                    offline_alternative=OFFLINE_ALTERNATIVE,
                )
            except DownloadError as error:
                errors.append(error)
        kind = ChecksumError if any(isinstance(e, ChecksumError) for e in errors) else DownloadError
        raise kind("\n".join(str(e) for e in errors)) from errors[-1]

    def prepare_data(self) -> None:
        if self.processed_path.exists():
            return
        arrays = read_emnist_zip(self.download())
        if self.balance:
            for split in ("train", "test"):
                keep = balance_indices(arrays[f"{split}_labels"])
                arrays[f"{split}_images"] = arrays[f"{split}_images"][keep]
                arrays[f"{split}_labels"] = arrays[f"{split}_labels"][keep]
        self.processed_path.parent.mkdir(parents=True, exist_ok=True)
        # atomic: a crash never leaves a half-written file
        with atomic_write(self.processed_path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    def setup(self, stage: str | None = None) -> None:
        if not self.processed_path.exists():
            raise RuntimeError(f"{self.processed_path} is missing: call prepare_data() first")
        with np.load(self.processed_path) as arrays:

            def to_dataset(split: str) -> BaseDataset:
                images = torch.from_numpy(arrays[f"{split}_images"]).unsqueeze(1)  # (N, 1, 28, 28)
                labels = torch.from_numpy(arrays[f"{split}_labels"]).long()
                return BaseDataset(images, labels, transform=_to_float)

            full_train = to_dataset("train")
            self.data_test = to_dataset("test")
        self.data_train, self.data_val = split_dataset(full_train, 1 - VAL_FRACTION, seed=self.seed)
