"""Write fonts/MANIFEST.md: each npm handwriting family, its version, licence and use.

Run after `make fonts` (`make font-manifest`). For every ``@fontsource/<family>`` package
in fonts/package.json: the version installed, the licence from its metadata, the SHA-256
of the one file the generator reads, and whether the quality checks accepted it (with
the reason when not). Committed, so a reader sees what the synthetic data is made of.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from text_recognizer.data.synthetic.fonts import (
    fontsource_dir,
    fontsource_files,
    list_fonts,
    rejected_fonts,
)

REPO = Path(__file__).resolve().parents[1]


def licence(meta: dict) -> str:
    value = meta.get("license")
    if isinstance(value, dict):
        return value.get("type", "?")
    return "OFL-1.1 (per Google Fonts)" if "google" in str(value) else str(value)


def main() -> None:
    root = fontsource_dir()
    files = fontsource_files(root)
    if not files:
        raise SystemExit(f"no fonts under {root}: run `make fonts` first")
    used = {Path(f.source): f.family for f in list_fonts(kinds=["ttf"])}
    rejected = {Path(path): reason for path, reason in rejected_fonts()}
    rows = []
    for path, meta in files:
        package = json.loads((path.parents[1] / "package.json").read_text())
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        status = "used" if path in used else f"skipped: {rejected.get(path, 'not found')}"
        family = used.get(path) or meta.get("family") or meta.get("fontName")
        rows.append(
            f"| {family} | `{package['name']}@{package['version']}` | {licence(meta)} "
            f"| `{digest}` | {status} |"
        )
    n_used = sum("| used |" in row for row in rows)
    text = "\n".join(
        [
            "# Handwriting fonts from npm",
            "",
            "Written by `make font-manifest` (scripts/font_manifest.py); installed by `make fonts`",
            "from fonts/package.json + package-lock.json (pinned versions, sha512-checked tarballs).",
            "The generator reads one file per family: `files/<id>-latin-400-normal.woff`",
            "(SHA-256 prefix below). All are Google Fonts: SIL Open Font License 1.1 or Apache 2.0,",
            "free to use, embed and redistribute (licence text in each package's LICENSE file).",
            "",
            f"{len(rows)} packages, {n_used} used after the quality checks in",
            "text_recognizer/data/synthetic/fonts.py (full character set, real lowercase, solid strokes).",
            "",
            "| family | package | licence | sha256 | status |",
            "|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    out = REPO / "fonts" / "MANIFEST.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    print(f"wrote {out}: {len(rows)} packages, {n_used} used")


if __name__ == "__main__":
    main()
