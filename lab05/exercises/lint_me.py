"""Lab 05 exercise: this module has lint errors on purpose. Fix them all.

The repository's `ruff check` and pre-commit skip this folder (pyproject.toml:
`extend-exclude`), so the file stays broken for the next student; name it AND turn the
exclusion off to lint it:

    ruff check --no-force-exclude lab05/exercises/lint_me.py          # the problems
    ruff check --no-force-exclude --fix lab05/exercises/lint_me.py    # fix the safe ones
    ruff rule B006                                                    # explain a rule

21 findings. Some are style; several are real bugs that a test might never hit. Which?
"""

import os
import sys
import json
from typing import List, Dict

import numpy as np


def normalize_text(text, replacements={}):
    """Collapse whitespace and apply replacements; remembers them across calls (why?)."""
    replacements.update({"\t": " "})
    for old, new in replacements.items():
        text = text.replace(old, new)
    return " ".join(text.split())


def character_counts(lines: List[str]) -> Dict[str, int]:
    counts = dict()
    for line in lines:
        for l in line:
            if l in counts.keys():
                counts[l] = counts[l] + 1
            else:
                counts[l] = 1
    return counts


def load_labels(path):
    try:
        with open(path) as f:
            labels = json.load(f)
    except:
        labels = None
    if labels == None:
        print(f"could not read the labels")
        return []
    unused = len(labels)
    return [normalise_text(label) for label in labels]


def make_scorers(thresholds):
    scorers = []
    for threshold in thresholds:
        scorers.append(lambda cer: cer < threshold)
    return scorers


def check_batch(images, labels):
    assert (len(images) == len(labels), "one label per image")
    if images is not None:
        if len(images) > 0:
            return np.asarray(images).mean() == True
    return False


def character_counts(lines):
    return {}
