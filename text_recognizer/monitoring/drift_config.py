"""drift.yaml, validated: a pydantic model of the file (``extra="forbid"``, so a mistyped
key is an error, not a silently ignored setting) and the flat :class:`DriftConfig` the
checks read. The defaults live here and nowhere else; drift.yaml states the shipped values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from text_recognizer.monitoring.projections import PROJECTIONS

CONFIG_PATH = Path(__file__).with_name("drift.yaml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DriftSection(_Section):
    ks_alpha: float = Field(0.001, gt=0.0, lt=1.0)
    d1_threshold: float = Field(0.3, ge=0.0, le=1.0)
    bins: int = Field(5, ge=2)


class VolumeSection(_Section):
    min: int = Field(0, ge=0)
    max: int = Field(10**9, ge=1)


class MissingSection(_Section):
    max_fraction: float = Field(0.05, ge=0.0, le=1.0)


class RangeSection(_Section):
    max_fraction: float = Field(0.05, ge=0.0, le=1.0)
    bounds: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)


class DriftFile(_Section):
    """The shape of drift.yaml (see that file for what each setting means)."""

    window: str = "1h"
    step: str | None = None  # None: the same as ``window`` (windows that do not overlap)
    min_window_count: int = Field(20, ge=1)
    drift: DriftSection = Field(default_factory=DriftSection)
    volume: VolumeSection = Field(default_factory=VolumeSection)
    missing: MissingSection = Field(default_factory=MissingSection)
    range: RangeSection = Field(default_factory=RangeSection)
    projections: list[str] = Field(default_factory=lambda: list(PROJECTIONS))

    @model_validator(mode="after")
    def _known_projections(self) -> DriftFile:
        unknown = sorted(set(self.projections) - set(PROJECTIONS))
        unknown_bounds = sorted(set(self.range.bounds) - set(PROJECTIONS))
        if unknown or unknown_bounds:
            raise ValueError(
                f"unknown projections {unknown + unknown_bounds}; known: {list(PROJECTIONS)}"
            )
        return self


@dataclass(frozen=True)
class DriftConfig:
    """The thresholds the checks read: drift.yaml's sections, flattened."""

    window: str
    step: str
    min_window_count: int
    ks_alpha: float
    d1_threshold: float
    bins: int
    volume_min: int
    volume_max: int
    missing_max_fraction: float
    range_max_fraction: float
    bounds: dict[str, tuple[float | None, float | None]]
    projections: tuple[str, ...]

    @classmethod
    def from_file(cls, file: DriftFile) -> DriftConfig:
        return cls(
            window=file.window,
            step=file.step or file.window,
            min_window_count=file.min_window_count,
            ks_alpha=file.drift.ks_alpha,
            d1_threshold=file.drift.d1_threshold,
            bins=file.drift.bins,
            volume_min=file.volume.min,
            volume_max=file.volume.max,
            missing_max_fraction=file.missing.max_fraction,
            range_max_fraction=file.range.max_fraction,
            bounds=dict(file.range.bounds),
            projections=tuple(file.projections),
        )


def load_config(path: str | os.PathLike | None = None, **overrides: Any) -> DriftConfig:
    """Read and validate drift.yaml (default: the packaged one); keyword ``overrides``
    (flat names, as on :class:`DriftConfig`) win. A bad file raises ``ValueError`` naming
    the key.

    >>> config = load_config(window="30min")
    >>> config.window, config.bounds["polarity"], "polarity" in config.projections
    ('30min', (0.0, 1.0), True)
    >>> load_config(volume_mni=3)
    Traceback (most recent call last):
    ...
    ValueError: unknown drift settings: ['volume_mni']
    """
    import yaml

    path = Path(path or CONFIG_PATH)
    raw = yaml.safe_load(path.read_text()) or {}
    try:
        config = DriftConfig.from_file(DriftFile.model_validate(raw))
    except ValidationError as error:
        raise ValueError(f"{path}: invalid drift settings\n{error}") from None
    unknown = set(overrides) - {f.name for f in fields(DriftConfig)}
    if unknown:
        raise ValueError(f"unknown drift settings: {sorted(unknown)}")
    if not overrides:
        return config
    values = {f.name: getattr(config, f.name) for f in fields(DriftConfig)} | overrides
    return DriftConfig(**values)
