"""A local artifact store with lineage: the offline stand-in for W&B Artifacts.

An *artifact* is a versioned bundle of files (a checkpoint, a staged model, a dataset
snapshot). *Lineage* answers "where did this model come from?": which run produced it,
which artifacts that run consumed, which run produced those, and so on back to the data::

    run train-1 --produced--> checkpoint:v0 --consumed by--> run stage-1 --produced--> model:v0

On disk (default ``<logs_dir>/artifacts``)::

    <root>/<name>/v0/model.ckpt            the files, copied in
    <root>/<name>/v0/metadata.json         type, digests, produced_by, aliases, metadata
    <root>/<name>/v0/consumers/<run>.json  one small record per run that used this version

Writes are atomic and safe for several processes at once (sweep workers): a version is
assembled in a private staging folder and published with one ``os.rename``, which fails if
another process took that version number first (we then try the next). A consumer record is
published with ``os.link``, which fails if it exists, so each run is recorded exactly once.
When a W&B run is active, artifacts are mirrored to it (logging works offline too; W&B can
record a *use* only online).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from text_recognizer.util import atomic_write_text

METADATA_FILENAME = "metadata.json"
CONSUMERS_DIRNAME = "consumers"
DEFAULT_DIRNAME = "artifacts"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VERSION = re.compile(r"^v(\d+)$")

Files = str | os.PathLike | Iterable[str | os.PathLike] | Mapping[str, str | os.PathLike]


class ArtifactError(ValueError):
    """A missing artifact or version, a bad name, or files that fail their checksum."""


@dataclass(frozen=True)
class ArtifactRef:
    """One stored artifact version: where it lives and what is known about it."""

    name: str
    version: str
    type: str
    path: Path
    produced_by: str | None = None
    aliases: tuple[str, ...] = ()
    created_at: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relpath -> sha256, size
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """``name:version``, the way W&B spells it."""
        return f"{self.name}:{self.version}"

    def file(self, relpath: str | None = None) -> Path:
        """The path of one file in the artifact (``relpath`` may be omitted if there is one)."""
        if relpath is None:
            if len(self.files) != 1:
                raise ArtifactError(f"{self.id} holds {len(self.files)} files: name one")
            relpath = next(iter(self.files))
        if relpath not in self.files:
            raise ArtifactError(f"{self.id} has no file {relpath!r}; it has {sorted(self.files)}")
        return self.path / relpath


class ArtifactStore:
    """Versioned artifacts under ``root`` with produced-by / consumed-by lineage.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "weights.pt").write_bytes(b"123")
    >>> store = ArtifactStore(root / "artifacts", mirror_to_wandb=False)
    >>> store.log_artifact("ckpt", "model", root / "weights.pt", produced_by="train-1").id
    'ckpt:v0'
    >>> store.use_artifact("ckpt", consumed_by="stage-1").name
    'v0'
    >>> store.lineage("ckpt")["consumed_by"]
    ['stage-1']
    """

    def __init__(self, root: str | os.PathLike, mirror_to_wandb: bool = True) -> None:
        self.root = Path(root)
        self.mirror_to_wandb = mirror_to_wandb

    @classmethod
    def default(cls, logs_dir: str | os.PathLike, **kwargs: Any) -> ArtifactStore:
        """The store in ``<logs_dir>/artifacts``."""
        return cls(Path(logs_dir) / DEFAULT_DIRNAME, **kwargs)

    # ------------------------------------------------------------ writing

    def log_artifact(
        self,
        name: str,
        type: str,
        files: Files,
        produced_by: str | None = None,
        metadata: dict[str, Any] | None = None,
        aliases: Iterable[str] = (),
    ) -> ArtifactRef:
        """Copy ``files`` into a new version of artifact ``name`` and return its reference.

        ``files`` is a path (a file, or a directory whose contents are copied), a list of
        paths (stored under their base names) or a mapping ``{name in artifact: path}``.
        ``produced_by`` is the id of the run that made it; ``aliases`` (e.g. ``"best"``) move
        to this version, like W&B aliases. ``latest`` is implicit: the highest version.
        """
        _check_name(name)
        sources = _normalize_files(files)
        artifact_dir = self.root / name
        artifact_dir.mkdir(parents=True, exist_ok=True)
        staging = artifact_dir / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            digests = {}
            for relpath, source in sources.items():
                target = staging / relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                digests[relpath] = {"sha256": _sha256(target), "size": target.stat().st_size}
            record = {
                "name": name,
                "type": type,
                "produced_by": produced_by,
                "aliases": sorted(set(aliases) - {"latest"}),
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "files": digests,
                "metadata": dict(metadata or {}),
            }
            version = self._publish(staging, artifact_dir, record)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # only left behind if publishing failed
        ref = self.get(name, version)
        if self.mirror_to_wandb:
            _wandb_log_artifact(ref)
        return ref

    def _publish(self, staging: Path, artifact_dir: Path, record: dict[str, Any]) -> str:
        """Rename ``staging`` to the next free ``vN``; retry if another process was faster."""
        number = self._next_version_number(artifact_dir)
        while True:
            version = f"v{number}"
            _write_json_atomic(staging / METADATA_FILENAME, {**record, "version": version})
            try:
                os.rename(staging, artifact_dir / version)  # fails if vN exists (not empty)
                return version
            except OSError:
                if not (artifact_dir / version).exists():
                    raise
                number += 1

    @staticmethod
    def _next_version_number(artifact_dir: Path) -> int:
        numbers = [int(m.group(1)) for p in artifact_dir.iterdir() if (m := _VERSION.match(p.name))]
        return max(numbers, default=-1) + 1

    def use_artifact(
        self,
        name: str,
        version: str | int = "latest",
        consumed_by: str | None = None,
        verify: bool = True,
    ) -> Path:
        """The directory of artifact ``name`` at ``version`` (``"latest"``, ``"v3"``, ``3`` or
        an alias), recording ``consumed_by`` as a consumer once. ``verify`` re-checks the
        SHA-256 of every file, so a corrupted or edited checkpoint fails loudly here."""
        ref = self.get(name, version)
        if verify:
            for relpath, info in ref.files.items():
                if _sha256(ref.path / relpath) != info["sha256"]:
                    raise ArtifactError(f"{ref.id}: {relpath} does not match its checksum")
        if consumed_by is not None:
            record = {
                "run": consumed_by,
                "artifact": ref.id,
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            consumers = ref.path / CONSUMERS_DIRNAME
            consumers.mkdir(exist_ok=True)
            target = consumers / f"{_safe_filename(consumed_by)}.json"
            if not target.exists() and _create_json_once(target, record) and self.mirror_to_wandb:
                _wandb_use_artifact(ref)
        return ref.path

    # ------------------------------------------------------------ reading

    def names(self) -> list[str]:
        """Every artifact name in the store."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def versions(self, name: str) -> list[ArtifactRef]:
        """Every version of ``name``, oldest first."""
        artifact_dir = self.root / name
        found = []
        if artifact_dir.is_dir():
            for path in artifact_dir.iterdir():
                match = _VERSION.match(path.name)
                if match and (path / METADATA_FILENAME).is_file():
                    found.append((int(match.group(1)), path))
        return [_load_ref(path) for _, path in sorted(found)]

    def get(self, name: str, version: str | int = "latest") -> ArtifactRef:
        """The reference for ``name`` at ``version``: ``"latest"``, ``"vN"``, ``N`` or an alias."""
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise ArtifactError(f"no artifact {name!r} in {self.root} (known: {known})")
        if version == "latest":
            return versions[-1]
        wanted = f"v{version}" if isinstance(version, int) else version
        for ref in reversed(versions):  # newest first, so a moved alias resolves to the newest
            if ref.version == wanted or wanted in ref.aliases:
                return ref
        raise ArtifactError(
            f"{name} has no version or alias {version!r}; versions: "
            + ", ".join(f"{r.version}{list(r.aliases) or ''}" for r in versions)
        )

    def consumers(self, ref: ArtifactRef) -> list[str]:
        """The runs that used this version, in the order they first did."""
        records = []
        for path in (ref.path / CONSUMERS_DIRNAME).glob("*.json"):
            records.append(json.loads(path.read_text()))
        return [r["run"] for r in sorted(records, key=lambda r: (r["time"], r["run"]))]

    def lineage(self, name: str, version: str | int = "latest") -> dict[str, Any]:
        """The lineage graph around one artifact version.

        Returns ``artifact`` (its id), ``produced_by``, ``consumed_by``, ``upstream`` (every
        artifact and run it descends from, nearest first), ``downstream`` (everything derived
        from it) and ``edges``: ``(source, target, relation)`` triples between ``run:<id>``
        and ``artifact:<name>:<version>`` nodes, relation ``produced`` or ``consumed``.
        """
        ref = self.get(name, version)
        produced: dict[str, list[str]] = {}  # run -> artifact ids it produced
        consumed: dict[str, list[str]] = {}  # run -> artifact ids it consumed
        producer: dict[str, str | None] = {}  # artifact id -> run
        users: dict[str, list[str]] = {}  # artifact id -> runs
        for artifact_name in self.names():
            for other in self.versions(artifact_name):
                producer[other.id] = other.produced_by
                users[other.id] = self.consumers(other)
                if other.produced_by:
                    produced.setdefault(other.produced_by, []).append(other.id)
                for run in users[other.id]:
                    consumed.setdefault(run, []).append(other.id)

        def walk(start: str, step) -> list[str]:
            seen, frontier, order = {start}, [start], []
            while frontier:
                node = frontier.pop(0)
                for nxt in step(node):
                    if nxt not in seen:
                        seen.add(nxt)
                        order.append(nxt)
                        frontier.append(nxt)
            return order

        def up(node: str) -> list[str]:
            if node.startswith("artifact:"):
                run = producer.get(node.removeprefix("artifact:"))
                return [f"run:{run}"] if run else []
            return [f"artifact:{a}" for a in consumed.get(node.removeprefix("run:"), [])]

        def down(node: str) -> list[str]:
            if node.startswith("artifact:"):
                return [f"run:{r}" for r in users.get(node.removeprefix("artifact:"), [])]
            return [f"artifact:{a}" for a in produced.get(node.removeprefix("run:"), [])]

        start = f"artifact:{ref.id}"
        upstream, downstream = walk(start, up), walk(start, down)
        nodes = [start, *upstream, *downstream]
        edges = set()
        for node in nodes:
            for parent in up(node):
                if parent in nodes:
                    relation = "produced" if parent.startswith("run:") else "consumed"
                    edges.add((parent, node, relation))
        return {
            "artifact": ref.id,
            "type": ref.type,
            "produced_by": ref.produced_by,
            "consumed_by": users[ref.id],
            "upstream": upstream,
            "downstream": downstream,
            "edges": sorted(edges),
        }

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r}, artifacts={self.names()})"


# ---------------------------------------------------------------- helpers


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ArtifactError(
            f"artifact name {name!r}: use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit"
        )


def _normalize_files(files: Files) -> dict[str, Path]:
    """``{relative path inside the artifact: source file}`` for any accepted ``files``."""
    if isinstance(files, Mapping):
        pairs = [(str(k), Path(v)) for k, v in files.items()]
    elif isinstance(files, str | os.PathLike):
        source = Path(files)
        if source.is_dir():
            pairs = [
                (p.relative_to(source).as_posix(), p)
                for p in sorted(source.rglob("*"))
                if p.is_file()
            ]
        else:
            pairs = [(source.name, source)]
    else:
        pairs = [(Path(f).name, Path(f)) for f in files]
    result: dict[str, Path] = {}
    for relpath, source in pairs:
        relative = Path(relpath)
        if relative.is_absolute() or ".." in relative.parts or relpath in ("", "."):
            raise ArtifactError(f"bad file name inside an artifact: {relpath!r}")
        if relative.parts[0] in (METADATA_FILENAME, CONSUMERS_DIRNAME):
            raise ArtifactError(f"{relpath!r} is reserved for the store's own records")
        if not source.is_file():
            raise ArtifactError(f"cannot add {source}: not a file")
        if relpath in result:
            raise ArtifactError(f"two files would be stored as {relpath!r}")
        result[relpath] = source
    if not result:
        raise ArtifactError("an artifact needs at least one file")
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_filename(run_id: str) -> str:
    """A run id as a file name; a hash suffix keeps distinct ids distinct.

    >>> _safe_filename("train/1")
    'train_1-...'
    """
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)[:80]
    return f"{cleaned}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"


def _write_json_atomic(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _create_json_once(path: Path, data: Any) -> bool:
    """Publish ``path`` complete, unless it exists already. True if this call created it."""
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    try:
        os.link(tmp, path)  # atomic and exclusive: fails with FileExistsError
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def _load_ref(path: Path) -> ArtifactRef:
    record = json.loads((path / METADATA_FILENAME).read_text())
    return ArtifactRef(
        name=record["name"],
        version=path.name,
        type=record["type"],
        path=path,
        produced_by=record.get("produced_by"),
        aliases=tuple(record.get("aliases", ())),
        created_at=record.get("created_at", ""),
        files=record.get("files", {}),
        metadata=record.get("metadata", {}),
    )


def _active_wandb_run() -> Any | None:
    """The current W&B run if one is active (never imports wandb just to ask)."""
    wandb = sys.modules.get("wandb")
    run = getattr(wandb, "run", None) if wandb else None
    if run is None or getattr(run.settings, "mode", "disabled") == "disabled":
        return None
    return run


def _to_wandb_artifact(ref: ArtifactRef) -> Any:
    import wandb

    artifact = wandb.Artifact(
        name=ref.name,
        type=ref.type,
        metadata={**ref.metadata, "local_id": ref.id, "produced_by": ref.produced_by},
    )
    for relpath in ref.files:
        artifact.add_file(str(ref.path / relpath), name=relpath)
    return artifact


def _wandb_log_artifact(ref: ArtifactRef) -> None:
    run = _active_wandb_run()
    if run is not None:
        run.log_artifact(_to_wandb_artifact(ref), aliases=["latest", *ref.aliases])


def _wandb_use_artifact(ref: ArtifactRef) -> None:
    """Record the use in W&B. Online only: W&B cannot resolve artifacts offline. The same
    files have the same digest, so W&B links the use to the version that was logged."""
    run = _active_wandb_run()
    if run is not None and not run.settings._offline:
        try:
            run.use_artifact(_to_wandb_artifact(ref))
        except Exception as error:  # the local lineage is the record; W&B's is a mirror
            warnings.warn(f"could not record the use of {ref.id} in W&B: {error}", stacklevel=3)
