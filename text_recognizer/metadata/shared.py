"""Where data lives on disk.

``TEXT_RECOGNIZER_DATA`` overrides the default ``<repo>/data`` (useful on Colab or a shared
cluster disk). Downloads go to ``downloaded/``, derived files to ``processed/``.
"""

import os
from pathlib import Path

REPO_DIRNAME = Path(__file__).resolve().parents[2]
DATA_DIRNAME = Path(os.environ.get("TEXT_RECOGNIZER_DATA", REPO_DIRNAME / "data"))
DOWNLOADED_DATA_DIRNAME = DATA_DIRNAME / "downloaded"
PROCESSED_DATA_DIRNAME = DATA_DIRNAME / "processed"
