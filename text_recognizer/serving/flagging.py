"""The app's default flagging callback: one JSON line per flag, images copied beside the log.

Gradio calls a :class:`gradio.flagging.FlaggingCallback` when a user presses a flag button:
``setup(components, flagging_dir)`` once when the app is built, then ``flag(flag_data,
flag_option, username)`` per press, with ``flag_data`` holding one raw value per flagged
component (the app flags ``[image, recognized text]``; the image arrives as Gradio's file
payload, a dict with a server-side ``path``). This default keeps everything in plain files
so a student can read them; :mod:`text_recognizer.monitoring` supplies a callback with the
same interface that writes into the evaluation store instead (``make_frontend(...,
flagging_callback=...)``).

Layout under ``flagging_dir`` (default ``logs/flagged/``)::

    flags.jsonl                  {"timestamp", "flag", "username", "<label>": value, ...}
    <label>/<hash>/<file>.png    flagged images; the JSON line holds the path relative
                                 to flagging_dir
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gradio.flagging import FlaggingCallback

LOG_FILENAME = "flags.jsonl"


def slug(label: str | None, index: int) -> str:
    """A file-system- and JSON-friendly key for a component label.

    >>> slug("Recognized text", 1), slug(None, 0), slug("Handwriting (image)", 0)
    ('recognized_text', 'component_0', 'handwriting_image')
    """
    text = re.sub(r"[^a-z0-9]+", "_", (label or "").lower()).strip("_")
    return text or f"component_{index}"


class JsonLinesFlagger(FlaggingCallback):
    """Append each flag to ``<flagging_dir>/flags.jsonl``; file values (images) are copied
    into ``<flagging_dir>/<label>/`` and recorded by relative path.

    Thread-safe within one process (Gradio runs handlers in a thread pool); every flag is
    one ``write`` of one line, so a reader never sees half a record.
    """

    def __init__(self) -> None:
        self.components: list[Any] = []
        self.flagging_dir = Path("logs/flagged")
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.flagging_dir / LOG_FILENAME

    def setup(self, components: Sequence[Any], flagging_dir: str | Path) -> None:
        self.components = list(components)
        self.flagging_dir = Path(flagging_dir)

    def flag(
        self,
        flag_data: list[Any],
        flag_option: str | None = None,
        username: str | None = None,
    ) -> int:
        """Record one flag; returns how many flags the log now holds."""
        record: dict[str, Any] = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "flag": flag_option,
            "username": username,
        }
        for index, (component, value) in enumerate(zip(self.components, flag_data, strict=True)):
            key = slug(getattr(component, "label", None), index)
            record[key] = self._store(component, value, key)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.flagging_dir.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(line)
            with self.log_path.open(encoding="utf-8") as log:
                return sum(1 for _ in log)

    def _store(self, component: Any, value: Any, key: str) -> Any:
        """A JSON-able form of one value: file payloads are copied and become relative paths."""
        if value is None or getattr(component, "data_model", None) is None:
            return value
        (self.flagging_dir / key).mkdir(parents=True, exist_ok=True)
        saved = json.loads(component.flag(value, flag_dir=self.flagging_dir / key))
        path = Path(saved["path"]) if isinstance(saved, dict) and saved.get("path") else None
        if path is None:
            return saved
        try:
            return path.resolve().relative_to(self.flagging_dir.resolve()).as_posix()
        except ValueError:  # copied somewhere unexpected: keep the absolute path
            return str(path)

    def read(self) -> list[dict[str, Any]]:
        """Every flag recorded so far (oldest first); [] if none."""
        if not self.log_path.exists():
            return []
        with self.log_path.open(encoding="utf-8") as log:
            return [json.loads(line) for line in log if line.strip()]
