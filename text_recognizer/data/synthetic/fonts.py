"""Ink sources for synthetic handwriting: Hershey stroke fonts and handwriting-style TTF/OTF files.

Every font is turned into the same thing: per character, a set of 2-D paths in *cap units*
(cap height = 1, baseline at y = 0, y pointing down, the glyph's left side at x = 0) plus an
advance width. Stroke fonts (Hershey) give open polylines that are drawn with a pen; outline
fonts (TTF/OTF) give closed contours that are filled, with the contours that bound counters
(the holes of "o", "e", "B") marked so they are cut out again.
Working in vectors means every geometric variation (slant, wobble, elastic distortion) is a
cheap NumPy transform of a few hundred points instead of a warp of a whole image.

Fonts come in *families* (e.g. "Hershey Script" holds ``scripts`` and ``scriptc``); datasets
select fonts by family or name, so a whole family can be held out for testing.

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
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
_FLATTEN_STEPS_PER_CAP = 10.0  # curve segments per cap height of curve length
_CAP_REFERENCE_CHAR = "H"


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


@dataclass(frozen=True)
class Glyph:
    """One character in cap units, as flat arrays so a whole line transforms in one go.

    ``points`` (m, 2) holds every path's (x, y) points back to back (y down, baseline 0);
    path ``i`` is ``points[path_ends[i-1]:path_ends[i]]``. For outline fonts, ``normals``
    are unit vectors pointing away from the ink (moving points along them makes strokes
    bolder) and ``holes`` marks the contours that cut counters out of the ink.
    """

    points: np.ndarray  # (m, 2) float32
    normals: np.ndarray  # (m, 2) float32, zeros for stroke fonts
    path_ends: np.ndarray  # (k,) int64
    holes: np.ndarray  # (k,) bool
    advance: float
    bbox: tuple[float, float, float, float]  # (x0, y0, x1, y1) of the ink

    @property
    def paths(self) -> list[np.ndarray]:
        return np.split(self.points, self.path_ends[:-1]) if len(self.points) else []


@dataclass(frozen=True)
class FontGlyphs:
    """All glyphs of a font plus the vertical metrics the renderer needs (cap units)."""

    font: FontSpec
    glyphs: dict[str, Glyph]
    closed: bool  # True: filled outlines (TTF); False: pen strokes (Hershey)
    ascent: float  # typical top of tall letters and digits above the baseline (>= 1)
    descent: float  # typical bottom of descenders (g, j, p, q, y) below the baseline
    x_height: float
    stroke: float  # typical stroke thickness of an outline font (0 for stroke fonts)


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
        flatten = _FlattenPen(glyph_set, _FLATTEN_STEPS_PER_CAP / max(cap, 1.0))
        glyph_set[cmap[ord(char)]].draw(flatten.pen)
        flatten._close()
        holes.append(int(_contour_roles(flatten.contours)[0].sum()) if flatten.contours else 0)
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


# ------------------------------------------------------------------------------- glyphs
def _signed_area(contour: np.ndarray) -> float:
    """Shoelace area: the sign gives the contour's orientation.

    >>> _signed_area(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float))
    1.0
    """
    x, y = contour[:, 0], contour[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _winding(contour: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Winding number of a closed contour around each of (n, 2) points.

    >>> square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    >>> _winding(square, np.array([[1.0, 1.0], [3.0, 1.0]])).tolist()
    [1, 0]
    """
    a, b = contour, np.roll(contour, -1, axis=0)  # (m, 2) edges a -> b
    px, py = points[:, 0:1], points[:, 1:2]  # (n, 1)
    cross = (b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (px - a[:, 0]) * (b[:, 1] - a[:, 1])  # (n, m)
    up = (a[:, 1] <= py) & (b[:, 1] > py) & (cross > 0)
    down = (a[:, 1] > py) & (b[:, 1] <= py) & (cross < 0)
    return up.sum(1) - down.sum(1)


def _contour_roles(contours: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Which contours are holes (non-zero fill rule), and their normals pointing off the ink.

    A contour bounds a hole when the other contours wind around it (it lies inside ink) and
    its own winding cancels theirs, so the region it encloses is empty. Deciding per contour
    keeps fonts with inconsistent contour directions working.
    """
    holes, normals = [], []
    for index, contour in enumerate(contours):
        own = 1 if _signed_area(contour) > 0 else -1  # the orientation of this contour
        is_hole = False
        if len(contours) > 1:
            probes = contour[:: max(1, len(contour) // 5)]  # a few of its own vertices
            others = sum(_winding(c, probes) for j, c in enumerate(contours) if j != index)
            is_hole = bool(np.median(others) != 0 and np.median(others + own) == 0)
        tangent = np.roll(contour, -1, axis=0) - np.roll(contour, 1, axis=0)
        exterior = own * np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)  # out of the contour
        exterior /= np.maximum(np.linalg.norm(exterior, axis=1, keepdims=True), 1e-9)
        holes.append(is_hole)
        normals.append(-exterior if is_hole else exterior)
    return np.array(holes, dtype=bool), np.concatenate(normals)


def _finish(
    font: FontSpec, raw: dict[str, tuple[list[np.ndarray], float]], closed: bool
) -> FontGlyphs:
    """Normalize raw glyphs (font units, y down, baseline 0) to cap units and measure them."""
    cap_paths, _ = raw[_CAP_REFERENCE_CHAR]
    cap = -min(float(p[:, 1].min()) for p in cap_paths)
    glyphs: dict[str, Glyph] = {}
    for char, (paths, advance) in raw.items():
        paths = [p / cap for p in paths if len(p)]
        if paths:
            points = np.concatenate(paths).astype(np.float32)
            bbox = (*points.min(0).tolist(), *points.max(0).tolist())
        else:
            points, bbox = np.zeros((0, 2), np.float32), (0.0, 0.0, 0.0, 0.0)
        if closed and paths:
            holes, normals = _contour_roles(paths)
        else:
            normals, holes = np.zeros_like(points), np.zeros(len(paths), bool)
        glyphs[char] = Glyph(
            points=points,
            normals=normals.astype(np.float32),
            path_ends=np.cumsum([len(p) for p in paths], dtype=np.int64),
            holes=holes,
            advance=advance / cap,
            bbox=tuple(bbox),
        )
    # The writing band: typical, not extreme, so one loopy glyph does not shrink a whole
    # font (the renderer shrinks the rare glyph or line that would not fit).
    tops = [-g.bbox[1] for c, g in glyphs.items() if c.isalnum()]
    bottoms = [glyphs[c].bbox[3] for c in "gjpqy"]
    x_height = -float(np.median([glyphs[c].bbox[1] for c in "xuvz"]))
    stroke = 0.0
    if closed:  # a stroke of width w and length L has area w * L and perimeter ~ 2 L
        widths = []
        for char in "abcdefghijklmnopqrstuvwxyz":
            glyph = glyphs[char]
            contours = np.split(glyph.points, glyph.path_ends[:-1])
            area = sum(
                abs(_signed_area(c)) * (-1 if hole else 1) for c, hole in zip(contours, glyph.holes)
            )
            perimeter = sum(
                np.linalg.norm(c - np.roll(c, 1, axis=0), axis=1).sum() for c in contours
            )
            widths.append(2 * area / max(perimeter, 1e-6))
        stroke = float(np.median(widths))
    return FontGlyphs(
        font=font,
        glyphs=glyphs,
        closed=closed,
        ascent=max(1.0, float(np.percentile(tops, 90))),
        descent=max(0.0, float(np.median(bottoms))),
        x_height=x_height,
        stroke=stroke,
    )


def _load_hershey(font: FontSpec) -> FontGlyphs:
    from HersheyFonts import HersheyFonts

    hershey = HersheyFonts()
    hershey.load_default_font(font.source)
    glyphs = hershey.all_glyphs
    raw = {}
    for char in CHARSET:
        glyph = glyphs[char]
        baseline = glyph.base_line
        paths = [
            np.array(s, dtype=np.float64) - (glyph.left_offset, baseline) for s in glyph.strokes
        ]
        raw[char] = (paths, float(glyph.char_width))
    return _finish(font, raw, closed=False)


class _FlattenPen:
    """A fontTools pen that flattens quadratic/cubic curves into closed polylines.

    Plain Python on purpose: a font has ~30k tiny curve segments, where NumPy's per-call
    overhead would dominate.
    """

    def __init__(self, glyph_set, steps_per_unit: float) -> None:
        from fontTools.pens.basePen import BasePen

        outer = self

        class Pen(BasePen):
            def _moveTo(self, pt):
                outer._close()
                outer.current = [pt]

            def _lineTo(self, pt):
                outer.current.append(pt)

            def _curveToOne(self, p1, p2, p3):
                (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self._getCurrentPoint(), p1, p2, p3
                n = outer._steps(math.dist((x0, y0), p1) + math.dist(p1, p2) + math.dist(p2, p3))
                for i in range(1, n + 1):
                    t = i / n
                    a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
                    outer.current.append(
                        (a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3)
                    )

            def _qCurveToOne(self, p1, p2):
                (x0, y0), (x1, y1), (x2, y2) = self._getCurrentPoint(), p1, p2
                n = outer._steps(math.dist((x0, y0), p1) + math.dist(p1, p2))
                for i in range(1, n + 1):
                    t = i / n
                    a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t**2
                    outer.current.append((a * x0 + b * x1 + c * x2, a * y0 + b * y1 + c * y2))

            def _closePath(self):
                outer._close()

            def _endPath(self):
                outer._close()

        self.pen = Pen(glyph_set)
        self.steps_per_unit = steps_per_unit
        self.contours: list[np.ndarray] = []
        self.current: list = []

    def _steps(self, length: float) -> int:
        return min(max(math.ceil(length * self.steps_per_unit), 1), 16)

    def _close(self) -> None:
        if len(self.current) >= 3:
            self.contours.append(np.array(self.current, dtype=np.float64))
        self.current = []


def _load_outline(font: FontSpec) -> FontGlyphs:
    from fontTools.pens.boundsPen import BoundsPen
    from fontTools.ttLib import TTFont

    tt = TTFont(font.source, fontNumber=0)
    glyph_set, cmap = tt.getGlyphSet(), tt.getBestCmap()
    pen = BoundsPen(glyph_set)
    glyph_set[cmap[ord(_CAP_REFERENCE_CHAR)]].draw(pen)
    cap_units = pen.bounds[3]
    raw = {}
    for char in CHARSET:
        name = cmap[ord(char)]
        flatten = _FlattenPen(glyph_set, _FLATTEN_STEPS_PER_CAP / cap_units)
        glyph_set[name].draw(flatten.pen)
        flatten._close()
        paths = [c * (1.0, -1.0) for c in flatten.contours]  # font y points up; ours down
        raw[char] = (paths, float(glyph_set[name].width))
    return _finish(font, raw, closed=True)


_GLYPH_CACHE: dict[FontSpec, FontGlyphs] = {}


def install_glyphs(glyphs: dict[FontSpec, FontGlyphs]) -> None:
    """Fill this process's glyph cache (worker processes get their parent's glyphs this
    way instead of parsing every font file again)."""
    _GLYPH_CACHE.update(glyphs)


def load_glyphs(font: FontSpec) -> FontGlyphs:
    """Glyph paths of every CHARSET character of ``font``, cached per process.

    >>> g = load_glyphs(list_fonts(include=["hershey:futural"])[0])
    >>> g.closed, round(-g.glyphs["H"].bbox[1], 3), g.glyphs["x"].bbox[1] > -0.8
    (False, 1.0, True)
    """
    if font not in _GLYPH_CACHE:
        _GLYPH_CACHE[font] = _load_hershey(font) if font.kind == "hershey" else _load_outline(font)
    return _GLYPH_CACHE[font]
