"""Rendering many samples: seeded chunks, run in order or in worker processes.

Samples are split into fixed-size chunks, each rendered with its own generator seeded by
``(seed, chunk index)``, so the bytes never depend on how many processes share the work.
:func:`run_chunks` is the one runner (with an optional progress bar); :func:`render_pool`
makes its worker processes. :func:`render_characters` and :func:`render_lines` are the
batch versions of :func:`~.render.render_strip` and :func:`~.render.render_line`.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Sequence, Sized
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from text_recognizer.data.synthetic.fonts import FontSpec, list_fonts
from text_recognizer.data.synthetic.glyphs import install_glyphs, load_glyphs
from text_recognizer.data.synthetic.layout import CHAR_SIZE
from text_recognizer.data.synthetic.render import render_line, render_strip

CHUNK_SIZE = 256  # characters per seeded chunk: output does not depend on the worker count
LINE_CHUNK_SIZE = 32  # lines per seeded chunk
STRIP_SIZE = 16  # characters rendered together by one writer


def render_pool(num_workers: int, fonts: Sequence[FontSpec]) -> ProcessPoolExecutor:
    """Worker processes that render chunks.

    On Linux they are forked: they start in milliseconds and inherit the parsed glyphs.
    (They never touch PyTorch or OpenMP, the usual trouble with forking.) Elsewhere they are
    spawned, which re-imports the calling script, and receive the glyphs from the parent
    so no worker parses a font file again.
    """
    glyphs = {font: load_glyphs(font) for font in fonts}
    if sys.platform == "linux":
        return ProcessPoolExecutor(num_workers, mp_context=multiprocessing.get_context("fork"))
    return ProcessPoolExecutor(
        num_workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=install_glyphs,
        initargs=(glyphs,),
    )


def run_chunks(
    function: Callable[[tuple], Sized],
    jobs: list[tuple],
    fonts: Sequence[FontSpec],
    num_workers: int,
    *,
    progress: bool = False,
    desc: str = "rendering",
    total: int | None = None,
    unit: str = "img",
) -> list:
    """The one rendering runner: ``function`` over ``jobs``, in order, in :func:`render_pool`
    worker processes when ``num_workers > 1``; a tqdm bar counts samples (``len`` of each
    chunk's result). Returns the chunks' results in job order (so seeded output does not
    depend on ``num_workers``)."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit)
    results = []
    if num_workers > 1 and len(jobs) > 1:
        with render_pool(min(num_workers, len(jobs)), fonts) as pool:
            for chunk in pool.map(function, jobs):
                results.append(chunk)
                if bar is not None:
                    bar.update(len(chunk))
    else:
        for job in jobs:
            results.append(function(job))
            if bar is not None:
                bar.update(len(results[-1]))
    if bar is not None:
        bar.close()
    return results


def _render_chunk(job: tuple[Sequence[str], int, int, tuple[FontSpec, ...]]) -> np.ndarray:
    """One seeded chunk: writers take turns, ``STRIP_SIZE`` characters each."""
    chars, seed, chunk_index, fonts = job
    rng = np.random.default_rng([seed, chunk_index])
    strips = ["".join(chars[i : i + STRIP_SIZE]) for i in range(0, len(chars), STRIP_SIZE)]
    return np.concatenate([render_strip(strip, rng, fonts=fonts) for strip in strips])


def render_characters(
    chars: Sequence[str],
    seed: int,
    fonts: Sequence[FontSpec] | None = None,
    *,
    num_workers: int = 1,
    progress: bool = False,
    desc: str = "rendering characters",
) -> np.ndarray:
    """Render each of ``chars`` as a (28, 28) uint8 image, EMNIST polarity: (N, 28, 28).

    Deterministic in ``seed`` (and the fonts): characters are rendered in chunks of
    ``CHUNK_SIZE``, each with its own seeded generator, so the bytes do not depend on
    ``num_workers``. Within a chunk, each run of ``STRIP_SIZE`` characters shares a writer.

    >>> a = render_characters("aA", seed=0)
    >>> a.shape, a.dtype, bool((a == render_characters("aA", seed=0)).all())
    ((2, 28, 28), dtype('uint8'), True)
    """
    fonts = tuple(list_fonts() if fonts is None else fonts)
    chars = list(chars)
    jobs = [
        (chars[start : start + CHUNK_SIZE], seed, k, fonts)
        for k, start in enumerate(range(0, len(chars), CHUNK_SIZE))
    ]

    chunks = run_chunks(
        _render_chunk, jobs, fonts, num_workers, progress=progress, desc=desc, total=len(chars)
    )
    if not chunks:
        return np.zeros((0, CHAR_SIZE, CHAR_SIZE), dtype=np.uint8)
    return np.concatenate(chunks)


def _render_line_chunk(job) -> list:
    texts, seed, chunk_index, fonts, height, return_boxes = job
    rng = np.random.default_rng([seed, chunk_index])
    return [
        render_line(text, rng, height=height, fonts=fonts, return_boxes=return_boxes)
        for text in texts
    ]


def render_lines(
    texts: Sequence[str],
    seed: int,
    *,
    height: int = 64,
    fonts: Sequence[FontSpec] | None = None,
    num_workers: int = 1,
    progress: bool = False,
    return_boxes: bool = False,
    desc: str = "rendering lines",
) -> list:
    """:func:`render_line` for many texts, each by a random writer; in parallel if asked.

    Deterministic in ``seed``: lines are rendered in seeded chunks of ``LINE_CHUNK_SIZE``,
    so the output does not depend on ``num_workers``. Returns images (or (image, boxes)
    pairs with ``return_boxes``), in the order of ``texts``.

    >>> a, b = render_lines(["one", "two"], seed=1, height=32), render_lines(["one", "two"], seed=1, height=32)
    >>> [im.tobytes() for im in a] == [im.tobytes() for im in b]
    True
    """
    fonts = tuple(list_fonts() if fonts is None else fonts)
    texts = list(texts)
    jobs = [
        (texts[start : start + LINE_CHUNK_SIZE], seed, k, fonts, height, return_boxes)
        for k, start in enumerate(range(0, len(texts), LINE_CHUNK_SIZE))
    ]
    chunks = run_chunks(
        _render_line_chunk,
        jobs,
        fonts,
        num_workers,
        progress=progress,
        desc=desc,
        total=len(texts),
        unit="line",
    )
    return [line for chunk in chunks for line in chunk]
