"""Hashed, cached, atomic downloads (via pooch) with messages that say what to do offline.

Every dataset in the course downloads through :func:`download_file`:

- the file is fetched into a temporary file in the target directory, its SHA-256 checked,
  and only then renamed into place, so a failed or corrupted download leaves nothing;
- a file that is already present with the right hash is never requested again;
- a network failure raises :class:`DownloadError` naming the offline alternative.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pooch
import requests

DEFAULT_TIMEOUT_S = 15.0


class DownloadError(RuntimeError):
    """The file could not be downloaded (offline, HTTP error, ...)."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the expected SHA-256; nothing was kept."""


def sha256sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks.

    >>> import tempfile; f = tempfile.NamedTemporaryFile(delete=False); _ = f.write(b"abc"); f.close()
    >>> sha256sum(f.name)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def download_file(
    url: str,
    sha256: str | None,
    dirname: str | os.PathLike,
    filename: str | None = None,
    offline_alternative: str = "",
    timeout: float = DEFAULT_TIMEOUT_S,
    progressbar: bool = True,
) -> Path:
    """Download ``url`` into ``dirname`` (once) and verify its SHA-256.

    ``sha256=None`` skips verification (use only for files whose hash cannot be known, and
    say so). Returns the path of the verified file.
    """
    dirname = Path(dirname)
    dirname.mkdir(parents=True, exist_ok=True)
    filename = filename or url.rstrip("/").split("/")[-1]
    known_hash = f"sha256:{sha256}" if sha256 else None
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)
    try:
        path = pooch.retrieve(
            url=url, known_hash=known_hash, fname=filename, path=dirname, downloader=downloader
        )
    except ValueError as error:  # pooch's hash mismatch
        if "hash" not in str(error).lower():
            raise
        raise ChecksumError(
            f"The file downloaded from {url} is corrupted or has changed: {error}\n"
            f"Nothing was saved. Retry, or check that the URL points at the original file."
        ) from error
    except (requests.ConnectionError, requests.Timeout) as error:
        hint = f" Offline alternative: {offline_alternative}" if offline_alternative else ""
        raise DownloadError(
            f"Could not reach {url} ({type(error).__name__}). You may be offline.{hint}"
        ) from error
    except requests.HTTPError as error:
        raise DownloadError(f"Download of {url} failed: {error}") from error
    return Path(path)
