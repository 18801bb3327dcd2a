"""Write the app's bundled examples: short paragraphs from the FIXED SyntheticParagraphs test
split (never trained on), one per handwriting family below, the last one from the family
held out of the release model's training data.

    .venv/bin/python text_recognizer/serving/examples/make_examples.py

Deterministic: the test split never depends on a seed, so the same files come out (they are
committed; rerun only if the generator's version changes). ``labels.json`` records each
file's ground-truth text, source index and family.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

from text_recognizer.util import atomic_write, atomic_write_text

HERE = Path(__file__).resolve().parent
# The release model's test split (its model card's data settings): 200 paragraphs, offline text.
DATA_ARGS = {"num_train": 0, "num_val": 0, "num_test": 200, "sentence_source": "offline"}
FAMILIES = ("DkgHandwriting", "Hershey Cursive", "Kristi", "Dancing Script")  # last: held out
LINES = (2, 4)  # short paragraphs: readable thumbnails, small files


def main() -> int:
    from text_recognizer.data.synthetic import list_fonts
    from text_recognizer.data.synthetic_paragraphs import SyntheticParagraphs

    data = SyntheticParagraphs(DATA_ARGS)
    data.prepare_data()  # renders the test split only if it is not cached
    family_of = {font.name: font.family for font in list_fonts()}
    samples = data.read_record("test")["samples"]
    test = data.load_split("test")
    labels = {}
    for family in FAMILIES:
        index = next(
            i
            for i, s in enumerate(samples)
            if family_of.get(s["font"]) == family and LINES[0] <= len(s["lines"]) <= LINES[1]
        )
        slug = family.lower().replace(" ", "_")
        name = f"test{index:03d}_{slug}.png"
        image: Image.Image = test.image(index)
        with atomic_write(HERE / name, "wb") as handle:
            image.save(handle, format="PNG", optimize=True)
        labels[name] = {"text": samples[index]["text"], "test_index": index, "family": family}
        print(f"{name}: {image.size[0]}x{image.size[1]}, {(HERE / name).stat().st_size} bytes")
    atomic_write_text(HERE / "labels.json", json.dumps(labels, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
