"""Where data lives on disk.

``TEXT_RECOGNIZER_DATA`` overrides the default: ``<repo>/data`` in a checkout, the user's
cache folder for a package installed from a wheel (useful on Colab or a shared cluster disk). Downloads go to ``downloaded/``, derived files to ``processed/``.
"""

import os
from pathlib import Path

PACKAGE_DIRNAME = Path(__file__).resolve().parents[1]  # text_recognizer/
REPO_DIRNAME = PACKAGE_DIRNAME.parent  # the checkout (an editable install), else site-packages
IN_CHECKOUT = (REPO_DIRNAME / "pyproject.toml").is_file()


def _default_data_dir() -> Path:
    """``data/`` in a checkout; for a package installed from a wheel, the user's cache
    (``$XDG_CACHE_HOME/text-recognizer/data``), never site-packages."""
    if IN_CHECKOUT:
        return REPO_DIRNAME / "data"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "text-recognizer" / "data"


DATA_DIRNAME = Path(os.environ.get("TEXT_RECOGNIZER_DATA") or _default_data_dir())
DOWNLOADED_DATA_DIRNAME = DATA_DIRNAME / "downloaded"
PROCESSED_DATA_DIRNAME = DATA_DIRNAME / "processed"
