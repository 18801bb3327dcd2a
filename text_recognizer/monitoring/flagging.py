"""StoreFlaggingCallback: the Gradio "Flag" button writes into the evaluation store.

Users flagging wrong outputs is the cheapest labeled data a product gets: each flag points
at a real input the model got wrong, in the user's own words (the flag option). Gradio's
default callback appends to a CSV next to the app; this one stores the flag beside the
prediction it is about, so flags can be joined with outputs, projections and images::

    store = EvaluationStore.open("monitoring/store.db")
    frontend = make_frontend(..., flagging_callback=StoreFlaggingCallback(store))

Gradio calls ``setup(components, flagging_dir)`` once when the interface is built, then
``flag(flag_data, flag_option, username)`` per click, with one value per component (inputs
then outputs) exactly as the browser holds them: an image arrives as a file payload
(``{"path": ..., ...}``), a textbox as a string.

The flag finds its prediction by content: the image's pixel hash and the output text
(see :meth:`EvaluationStore.log_flag`), so the UI needs no hidden request-id field.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gradio.flagging import FlaggingCallback
from PIL import Image

from text_recognizer.monitoring.store import EvaluationStore
from text_recognizer.util import read_image_pil

LOGGER = logging.getLogger(__name__)


class StoreFlaggingCallback(FlaggingCallback):
    """A Gradio ``FlaggingCallback`` that logs flags (input image, output text, option,
    username) to an :class:`EvaluationStore`.

    ``store``: a store, a SQLite path / PostgreSQL URL (opened at ``setup``), or None for
    ``<flagging_dir>/store.db``. ``image_index``/``text_index`` pick the components holding
    the input image and the output text; by default the first image and the LAST textbox
    (Gradio passes inputs first, outputs last).
    """

    def __init__(
        self,
        store: EvaluationStore | str | os.PathLike | None = None,
        *,
        image_root: str | os.PathLike | None = None,
        image_index: int | None = None,
        text_index: int | None = None,
    ) -> None:
        self._target = store
        self.store: EvaluationStore | None = store if isinstance(store, EvaluationStore) else None
        self.image_root = image_root
        self.image_index = image_index
        self.text_index = text_index
        self.components: Sequence[Any] = ()
        self.failures = 0

    def setup(self, components: Sequence[Any], flagging_dir: str | os.PathLike) -> None:
        """Remember the components and open the store (Gradio calls this once)."""
        self.components = list(components)
        if self.store is None:
            target = self._target or Path(flagging_dir) / "store.db"
            self.store = EvaluationStore.open(target, image_root=self.image_root)
        if self.image_index is None:
            self.image_index = _first_index(self.components, "Image")
        if self.text_index is None:
            self.text_index = _last_index(self.components, "Textbox")

    def flag(
        self,
        flag_data: list[Any],
        flag_option: str | None = None,
        username: str | None = None,
    ) -> int:
        """Store one flag -> the number of flags in the store (Gradio's contract)."""
        if self.store is None:
            raise RuntimeError("StoreFlaggingCallback.flag called before setup()")
        image = _sample(flag_data, self.image_index)
        text = _sample(flag_data, self.text_index)
        try:
            self.store.log_flag(
                flag_option,
                image=to_pil(image) if image is not None else None,
                output_text=text if isinstance(text, str) else None,
                username=username,
            )
        except Exception:
            self.failures += 1
            LOGGER.exception("could not store a flag")
            raise  # Gradio catches it and shows "Error!" on the button
        return self.store.count("flags")


def to_pil(value: Any) -> Image.Image:
    """A Gradio image payload as PIL: a file payload (dict or FileData with ``path``), a
    path, a NumPy array or a PIL image.

    >>> to_pil(np.zeros((2, 3), dtype=np.uint8)).size
    (3, 2)
    """
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, np.ndarray):
        return Image.fromarray(value)
    if isinstance(value, dict):
        value = value.get("path") or value.get("url")
    elif hasattr(value, "path"):
        value = value.path
    return read_image_pil(
        Path(value) if isinstance(value, str) and os.path.exists(value) else value
    )


def _sample(flag_data: Sequence[Any], index: int | None) -> Any:
    if index is None or index >= len(flag_data):
        return None
    return flag_data[index]


def _first_index(components: Sequence[Any], kind: str) -> int | None:
    return next((i for i, c in enumerate(components) if type(c).__name__ == kind), None)


def _last_index(components: Sequence[Any], kind: str) -> int | None:
    matches = [i for i, c in enumerate(components) if type(c).__name__ == kind]
    return matches[-1] if matches else None
