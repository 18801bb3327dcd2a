"""Which fonts there are: Hershey stroke fonts and handwriting-style TTF/OTF files.

A font is a :class:`FontSpec`; :func:`~.glyphs.load_glyphs` turns it into paths. Fonts come
in *families* (e.g. "Hershey Script" holds ``scripts`` and ``scriptc``); datasets select
fonts by family or name, so a whole family can be held out for testing.

Hershey fonts ship inside the ``hershey-fonts`` package, so generation always works. Three
more sources add outline fonts, each checked for quality (full character set, real lowercase
letters, solid strokes) before use:

- the Google Fonts handwriting faces that ``make fonts`` installs from the npm registry
  (``fonts/package.json`` pins each ``@fontsource/<family>`` package; ``npm ci`` checks every
  tarball against the sha512 in ``fonts/package-lock.json``; ``fonts/MANIFEST.md`` lists each
  family with its licence). Where npm is absent, everything works without them;
- system fonts whose file or family name looks like handwriting (Debian's ``fonts-*``);
- ``TEXT_RECOGNIZER_FONT_DIRS`` (``os.pathsep``-separated): folders whose fonts are all
  considered handwriting.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from text_recognizer.data.synthetic.outline import (
    FLATTEN_STEPS_PER_CAP,
    contour_roles,
    flatten_glyph,
)
from text_recognizer.metadata.emnist import CHARSET

# Hershey fonts that read as handwriting or hand printing, grouped into families. The
# gothic, Greek, Cyrillic and symbol sets are left out; so are the bold and upright serif
# "Times" and "Roman" fonts, which look typeset rather than written.
HERSHEY_FONTS: dict[str, str] = {
    "futural": "Hershey Sans",  # single-stroke sans: neat hand printing
    "futuram": "Hershey Sans",  # its double-stroke weight
    "scripts": "Hershey Script",  # connected script, single stroke
    "scriptc": "Hershey Script",  # connected script, double stroke
    "cursive": "Hershey Cursive",  # rounder connected cursive
    "timesi": "Hershey Italic",  # italic book hand
}

# File or family names of handwriting-style fonts (matched case-insensitively, spaces,
# dashes and underscores ignored). Debian/Ubuntu packages and common Google Fonts families.
# fmt: off
HANDWRITING_NAME_PATTERNS = (
    "hand", "script", "writ", "kristi", "breip", "femke", "humor", "becausewe", "dkg",
    "dancing", "caveat", "indieflower", "marker", "comic", "xkcd", "architect", "shadowsinto",
    "gochi", "kalam", "patrick", "sacramento", "satisfy", "pacifico", "greatvibes", "allura",
    "homemade", "rocksalt", "nanumpen", "reeniebeanie", "schoolbell", "comingsoon", "cedarville",
    "labelleaurore", "zeyada", "overtherainbow", "lovedbytheking", "calligraffitti", "neucha",
    "sueellen", "delius", "mali", "itim", "sriracha", "gaegu", "nothingyoucoulddo",
)
# fmt: on
SYSTEM_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "~/Library/Fonts",
    "C:/Windows/Fonts",
)
FONT_DIRS_ENV = "TEXT_RECOGNIZER_FONT_DIRS"
FONT_SUFFIXES = (".ttf", ".otf", ".woff")  # fontTools reads WOFF (zlib) without extras
# Where `make fonts` puts the npm packages (override: $TEXT_RECOGNIZER_FONTSOURCE_DIR)
FONTSOURCE_ENV = "TEXT_RECOGNIZER_FONTSOURCE_DIR"
FONTSOURCE_DIR = Path(__file__).resolve().parents[3] / "fonts" / "node_modules" / "@fontsource"
# Marks drawn as solid blobs in any normal hand, cursive included (a cursive "l" has a loop,
# a hyphen never has one): an outline ("hollow") font has a hole inside them.
_SINGLE_STROKE_CHARS = "-/.,':!"


@dataclass(frozen=True, order=True)
class FontSpec:
    """One font: ``family`` groups related fonts; ``name`` is unique (``kind:stem``).

    ``source`` is the Hershey font name or the font file's path.

    >>> FontSpec(family="Hershey Script", name="hershey:scripts", kind="hershey", source="scripts")
    FontSpec(family='Hershey Script', name='hershey:scripts', kind='hershey', source='scripts')
    """

    family: str
    name: str
    kind: str  # "hershey" (stroke font) | "ttf" (outline font, TTF or OTF)
    source: str


def _squash(name: str) -> str:
    """Lowercase without spaces, dashes or underscores.

    >>> _squash("Dancing Script-Bold_x")
    'dancingscriptboldx'
    """
    return re.sub(r"[\s_\-]+", "", name.lower())


def looks_like_handwriting(name: str) -> bool:
    """Whether a font file or family name matches a known handwriting-style pattern.

    >>> looks_like_handwriting("DancingScript-Regular.otf"), looks_like_handwriting("DejaVuSans.ttf")
    (True, False)
    """
    squashed = _squash(name)
    return any(pattern in squashed for pattern in HANDWRITING_NAME_PATTERNS)


# ----------------------------------------------------------------------------- discovery
def _hershey_fonts() -> list[FontSpec]:
    try:
        import HersheyFonts  # noqa: F401  (the hershey-fonts package)
    except ImportError:  # pragma: no cover - a dependency of the course
        return []
    return [
        FontSpec(family, f"hershey:{name}", "hershey", name)
        for name, family in HERSHEY_FONTS.items()
    ]


def font_dirs() -> list[Path]:
    """Folders searched for TTF/OTF files: ``$TEXT_RECOGNIZER_FONT_DIRS`` first, then the system's."""
    extra = [p for p in os.environ.get(FONT_DIRS_ENV, "").split(os.pathsep) if p]
    return [Path(p).expanduser() for p in (*extra, *SYSTEM_FONT_DIRS)]


def fontsource_dir() -> Path:
    """The folder of ``@fontsource`` packages that ``make fonts`` installs."""
    return Path(os.environ.get(FONTSOURCE_ENV) or FONTSOURCE_DIR).expanduser()


def fontsource_files(root: Path | None = None) -> list[tuple[Path, dict]]:
    """``(font file, package metadata)`` for every handwriting package under ``root``: its
    Latin, regular-weight, upright WOFF (one file per family: weights are not new hands)."""
    import json

    root = fontsource_dir() if root is None else root
    found = []
    for package in sorted(root.glob("*/metadata.json")) if root.is_dir() else []:
        meta = json.loads(package.read_text())
        path = package.parent / "files" / f"{package.parent.name}-latin-400-normal.woff"
        if meta.get("category") == "handwriting" and path.is_file():
            found.append((path, meta))
    return found


def _check_outline_font(path: Path) -> tuple[str, str, str]:
    """Return (family, subfamily, reason) where reason is "" for a usable font.

    Usable means: every CHARSET character has a glyph, lowercase letters are real lowercase
    (not small capitals: their x-height is clearly below the cap height, and "bdhkl" rise
    clearly above it), and simple
    characters are solid single contours (not hollow "outline" or sketched lettering).
    """
    from fontTools.pens.boundsPen import BoundsPen
    from fontTools.ttLib import TTFont

    try:
        font = TTFont(str(path), lazy=True, fontNumber=0)
        names = font["name"]
        family = (names.getDebugName(16) or names.getDebugName(1) or path.stem).strip()
        subfamily = names.getDebugName(17) or names.getDebugName(2) or ""
        cmap = font.getBestCmap() or {}
    except Exception as error:
        return path.stem, "", f"unreadable ({type(error).__name__})"
    missing = [c for c in CHARSET if ord(c) not in cmap]
    if missing:
        return family, subfamily, f"missing characters {''.join(missing)!r}"
    glyph_set = font.getGlyphSet()

    def top(char: str) -> float:
        pen = BoundsPen(glyph_set)
        glyph_set[cmap[ord(char)]].draw(pen)
        return pen.bounds[3] if pen.bounds else 0.0

    cap, x_height = top("H"), np.median([top(c) for c in "xuvz"])
    ascender = np.median([top(c) for c in "bdhkl"])  # above the x-height in real lowercase
    if cap <= 0 or x_height > 0.8 * cap or ascender < 1.2 * x_height:
        return family, subfamily, "no real lowercase (small capitals)"
    # A hollow letter is an outline with a hole inside it; a script font's overlapping
    # strokes are several contours too, but none of them is a hole.
    holes = []
    for char in _SINGLE_STROKE_CHARS:
        contours = flatten_glyph(glyph_set, cmap[ord(char)], FLATTEN_STEPS_PER_CAP / max(cap, 1.0))
        holes.append(int(contour_roles(contours)[0].sum()) if contours else 0)
    if np.median(holes) >= 1:
        return family, subfamily, "hollow or sketched outlines"
    return family, subfamily, ""


@functools.lru_cache(maxsize=8)
def _discover_outline_fonts(
    dirs: tuple[Path, ...], extra: tuple[Path, ...], fontsource: Path
) -> tuple:
    """Scan once; returns (accepted FontSpecs, rejected (path, reason) pairs)."""
    accepted: dict[tuple[str, str], FontSpec] = {}
    rejected: list[tuple[str, str]] = []

    def consider(path: Path) -> None:
        family, subfamily, reason = _check_outline_font(path)
        if reason:
            rejected.append((str(path), reason))
        elif (family, subfamily) in accepted:  # the same font installed twice
            rejected.append((str(path), f"duplicate of {accepted[family, subfamily].source}"))
        else:
            accepted[family, subfamily] = FontSpec(family, f"ttf:{path.stem}", "ttf", str(path))

    for path, _ in fontsource_files(fontsource):
        consider(path)
    for directory in dirs:
        if not directory.is_dir():
            continue
        trusted = directory in extra  # the user vouches that these are handwriting
        for path in sorted(directory.rglob("*")):
            if path.suffix.lower() not in FONT_SUFFIXES or not path.is_file():
                continue
            if not trusted and not looks_like_handwriting(str(path.relative_to(directory))):
                continue
            consider(path)
    return tuple(sorted(accepted.values())), tuple(rejected)


def _outline_fonts() -> tuple[tuple[FontSpec, ...], tuple[tuple[str, str], ...]]:
    dirs = font_dirs()
    extra = dirs[: len(dirs) - len(SYSTEM_FONT_DIRS)]
    try:
        import fontTools  # noqa: F401
    except ImportError:  # pragma: no cover - fontTools comes with matplotlib
        return (), ()
    return _discover_outline_fonts(tuple(dirs), tuple(extra), fontsource_dir())


def list_fonts(
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    kinds: Iterable[str] = ("hershey", "ttf"),
) -> list[FontSpec]:
    """All usable fonts (sorted by family, then name), optionally filtered.

    ``include``/``exclude`` hold family names or font names (case-insensitive); ``None``
    includes everything. An empty result raises ``ValueError`` naming the known families.

    >>> fonts = list_fonts(include=["Hershey Script"])
    >>> [f.name for f in fonts]
    ['hershey:scriptc', 'hershey:scripts']
    >>> "Hershey Script" in font_families(list_fonts(exclude=["Hershey Sans"]))
    True
    """
    kinds = set(kinds)
    fonts = [f for f in _all_fonts(_outline_fonts()[0]) if f.kind in kinds]
    if include is None and exclude is None:
        return fonts
    return select_fonts(fonts, include=include, exclude=exclude)


@functools.lru_cache(maxsize=8)
def _all_fonts(outline_fonts: tuple[FontSpec, ...]) -> tuple[FontSpec, ...]:
    return tuple(sorted((*_hershey_fonts(), *outline_fonts)))


def select_fonts(
    fonts: Sequence[FontSpec],
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
) -> list[FontSpec]:
    """Filter ``fonts`` by family or font name (case-insensitive); fails loudly when empty."""

    def matches(font: FontSpec, keys: set[str]) -> bool:
        return font.family.lower() in keys or font.name.lower() in keys

    include_keys = None if include is None else {k.strip().lower() for k in include if k.strip()}
    exclude_keys = {k.strip().lower() for k in exclude or () if k.strip()}
    known = {f.family.lower() for f in fonts} | {f.name.lower() for f in fonts}
    unknown = ((include_keys or set()) | exclude_keys) - known
    if unknown:
        raise ValueError(
            f"unknown font families or names {sorted(unknown)}; available families: "
            f"{font_families(fonts)}"
        )
    selected = [
        f
        for f in fonts
        if (include_keys is None or matches(f, include_keys)) and not matches(f, exclude_keys)
    ]
    if not selected:
        raise ValueError(
            f"no fonts left after include={include} exclude={exclude}; "
            f"available families: {font_families(fonts)}"
        )
    return selected


def font_families(fonts: Sequence[FontSpec] | None = None) -> list[str]:
    """Sorted family names of ``fonts`` (default: all usable fonts).

    >>> font_families(list_fonts(kinds=["hershey"]))
    ['Hershey Cursive', 'Hershey Italic', 'Hershey Sans', 'Hershey Script']
    """
    return sorted({f.family for f in (list_fonts() if fonts is None else fonts)})


def rejected_fonts() -> list[tuple[str, str]]:
    """System font files that looked like handwriting but were skipped, with the reason."""
    return list(_outline_fonts()[1])


@functools.lru_cache(maxsize=64)
def font_digest(font: FontSpec) -> str:
    """A short content hash of the font (its file, or the Hershey package version + name),
    so a dataset fingerprint changes when a font file changes."""
    if font.kind == "ttf":
        return hashlib.sha256(Path(font.source).read_bytes()).hexdigest()[:16]
    from importlib.metadata import version

    return hashlib.sha256(
        f"hershey-fonts {version('hershey-fonts')} {font.source}".encode()
    ).hexdigest()[:16]
