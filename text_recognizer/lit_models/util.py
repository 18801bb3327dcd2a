"""Turning model outputs (token ids) back into text. Pure torch: no Lightning needed."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from text_recognizer.metadata.emnist import END, SPECIAL_TOKENS


def ids_to_strings(
    ids: torch.Tensor | Sequence[Sequence[int]], mapping: Sequence[str]
) -> list[str]:
    """Decode rows of token ids (B, S) into strings.

    Reading stops at the first ``<E>``; other special tokens (``<B> <S> <P>``) carry no
    text and are dropped. Works for both label rows (``<S> text <E> <P>...``) and CTC
    outputs (``text <P>...``).

    >>> mapping = ["<B>", "<S>", "<E>", "<P>", "a", "b", " "]
    >>> ids_to_strings(torch.tensor([[1, 4, 6, 5, 2, 3], [1, 5, 2, 4, 4, 3]]), mapping)
    ['a b', 'b']
    >>> ids_to_strings([[4, 4, 3, 3]], mapping)
    ['aa']
    """
    rows = ids.tolist() if isinstance(ids, torch.Tensor) else ids
    end = mapping.index(END)
    special = {mapping.index(token) for token in SPECIAL_TOKENS if token in mapping}
    strings = []
    for row in rows:
        chars = []
        for index in row:
            if index == end:
                break
            if index not in special:
                chars.append(mapping[index])
        strings.append("".join(chars))
    return strings


def ctc_greedy_decode(
    logits: torch.Tensor, blank: int, padding: int, max_length: int
) -> torch.Tensor:
    """Best-path CTC decoding: (B, C, S) logits -> (B, max_length) token ids.

    Take the most likely class at every position, merge runs of the same class, then drop
    blanks; pad with ``padding`` (truncate past ``max_length``). Merging before dropping is
    what lets CTC spell double letters: "l l" needs a blank between, "l <B> l".

    >>> B, P = 0, 3  # blank and padding indices
    >>> path = torch.tensor([[4, 4, B, 4, 5, 5, B]])  # best path over S = 7 positions
    >>> logits = torch.nn.functional.one_hot(path, 6).permute(0, 2, 1).float()  # (1, C, S)
    >>> ctc_greedy_decode(logits, blank=B, padding=P, max_length=5).tolist()
    [[4, 4, 5, 3, 3]]
    """
    best = logits.argmax(dim=1)  # (B, S)
    run_start = torch.ones_like(best, dtype=torch.bool)  # (B, S)
    run_start[:, 1:] = best[:, 1:] != best[:, :-1]  # first position of each run
    keep = run_start & (best != blank)  # (B, S)
    position = keep.long().cumsum(dim=1) - 1  # (B, S): where each kept token goes
    keep = keep & (position < max_length)
    out = torch.full((best.shape[0], max_length), padding, dtype=torch.long, device=best.device)
    rows = torch.arange(best.shape[0], device=best.device).unsqueeze(1).expand_as(best)
    out[rows[keep], position[keep]] = best[keep]
    return out
