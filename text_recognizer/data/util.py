"""Dataset utilities shared by every DataModule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset, random_split


class BaseDataset(Dataset):
    """Pairs of (data, target), with optional transforms applied on access.

    >>> ds = BaseDataset([1, 2, 3], [10, 20, 30], transform=lambda x: x * 2)
    >>> len(ds), ds[1]
    (3, (4, 20))
    """

    def __init__(
        self,
        data: Sequence | torch.Tensor,
        targets: Sequence | torch.Tensor,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        if len(data) != len(targets):
            raise ValueError(f"data ({len(data)}) and targets ({len(targets)}) differ in length")
        self.data, self.targets = data, targets
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        datum, target = self.data[index], self.targets[index]
        if self.transform is not None:
            datum = self.transform(datum)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return datum, target


def split_dataset(dataset: Dataset, fraction: float, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Split into two parts of ``fraction`` and ``1 - fraction``, reproducibly by seed.

    >>> a, b = split_dataset(BaseDataset(list(range(10)), list(range(10))), 0.8)
    >>> len(a), len(b)
    (8, 2)
    """
    first = int(fraction * len(dataset))
    generator = torch.Generator().manual_seed(seed)
    return tuple(random_split(dataset, [first, len(dataset) - first], generator=generator))


def convert_strings_to_labels(
    strings: Sequence[str], mapping: dict[str, int], length: int, with_start_end: bool = True
) -> torch.Tensor:
    """Encode strings as fixed-length label rows: ``<S>`` text ``<E>`` then ``<P>`` padding.

    >>> m = {"<S>": 1, "<E>": 2, "<P>": 3, "a": 4, "b": 5}
    >>> convert_strings_to_labels(["ab", "b"], m, 5).tolist()
    [[1, 4, 5, 2, 3], [1, 5, 2, 3, 3]]
    """
    labels = torch.full((len(strings), length), mapping["<P>"], dtype=torch.long)
    for row, string in enumerate(strings):
        tokens = list(string)
        if with_start_end:
            tokens = ["<S>", *tokens, "<E>"]
        if len(tokens) > length:
            raise ValueError(f"string of {len(string)} characters does not fit length {length}")
        for col, token in enumerate(tokens):
            labels[row, col] = mapping[token]
    return labels
