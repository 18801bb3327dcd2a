"""Every lab notebook is committed clean and follows the course's conventions.

Checked for each ``lab*/*.ipynb``: valid nbformat v4, no outputs or execution counts, the
title, then the shared setup cell (``scripts/notebook_setup_cell.py``), an exercises section, and no class
definitions (library code belongs in ``text_recognizer/``). The README's lab table must
agree with the notebooks that exist.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(REPO.glob("lab*/*.ipynb"))
EXERCISE_HEADING = re.compile(r"^#{1,6}\s.*exercise", re.IGNORECASE | re.MULTILINE)


def _load_setup_cell_module():
    spec = importlib.util.spec_from_file_location(
        "notebook_setup_cell", REPO / "scripts" / "notebook_setup_cell.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SETUP = _load_setup_cell_module()


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(REPO)) for path in paths]


def test_there_are_notebooks_to_check():
    assert REPO / "lab01" / "lab01_pytorch.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_valid_nbformat_v4(path: Path):
    notebook = _read(path)
    assert notebook.nbformat == 4, f"{path.name}: nbformat {notebook.nbformat}, expected 4"
    nbformat.validate(notebook)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_no_outputs_or_execution_counts(path: Path):
    dirty = [
        index
        for index, cell in enumerate(_read(path).cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: code cells {dirty} have outputs or execution counts; "
        f"run `.venv/bin/nbstripout {path}` (or `make format`)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_title_first_then_the_shared_setup_cell(path: Path):
    cells = _read(path).cells
    assert len(cells) > 2, f"{path.name} is (nearly) empty"
    title, setup = cells[0], cells[1]
    assert title.cell_type == "markdown" and title.source.startswith("# Lab"), (
        f"{path.name}: the first cell must be the title, a markdown cell starting '# Lab'"
    )
    assert setup.cell_type == "code", f"{path.name}: the second cell must be the setup code cell"
    assert setup.source.rstrip() == SETUP.SETUP_CELL.rstrip(), (
        f"{path.name}: the setup cell differs from scripts/notebook_setup_cell.py; "
        "run `python scripts/notebook_setup_cell.py --update lab*/*.ipynb`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_has_an_exercises_heading(path: Path):
    markdown = [cell.source for cell in _read(path).cells if cell.cell_type == "markdown"]
    assert any(EXERCISE_HEADING.search(source) for source in markdown), (
        f"{path.name}: no markdown heading mentioning 'Exercise'"
    )


# The classes students write themselves, to learn how they work (issue 16). Each must be
# defined where listed, and nowhere else: every other class is library code, which belongs in
# text_recognizer/ (notebooks import it).
TEACHING_CLASSES = {
    "lab01_pytorch.ipynb": {"TwoLayerNet", "TinyDigitsData"},
    "lab02a_lightning.ipynb": {"LitToyRegression"},
}


def _class_names(path: Path) -> list[tuple[int, str]]:
    transformer = TransformerManager()  # turns %magics and !shell lines into plain Python
    found = []
    for index, cell in enumerate(_read(path).cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(transformer.transform_cell(cell.source), filename=f"{path.name}[{index}]")
        found += [(index, node.name) for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_classes_are_only_the_ones_students_write(path: Path):
    allowed = TEACHING_CLASSES.get(path.name, set())
    found = _class_names(path)
    offenders = [f"cell {index}: class {name}" for index, name in found if name not in allowed]
    assert not offenders, (
        f"{path.name} defines classes ({', '.join(offenders)}): library code belongs in "
        "text_recognizer/, notebooks import it"
    )
    missing = allowed - {name for _, name in found}
    assert not missing, f"{path.name}: the student no longer writes {sorted(missing)}"


def test_setup_cell_accessor_and_constants():
    assert SETUP.setup_cell() == SETUP.SETUP_CELL
    source = SETUP.SETUP_CELL
    ast.parse(source)  # plain Python
    assert not re.search(r"^\s*[%!]", source, re.MULTILINE), "no IPython magics in the setup cell"
    assert 'os.environ.get(\n    "TEXT_RECOGNIZER_REPO"' in source
    assert "https://github.com/full-stack-deep-learning/text-recognizer-labs" in source


def test_setup_cell_makes_the_package_importable_without_an_install(tmp_path: Path):
    """Outside Colab, with no installed package (``python -S``: no site-packages, so no
    editable install), the cell puts the notebook folder's parent on sys.path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLAB_")}
    env.pop("PYTHONPATH", None)
    probe = SETUP.SETUP_CELL + "\nprint(text_recognizer.__file__)\nprint(os.getcwd())\n"
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=REPO / "lab01",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    module_file, cwd = result.stdout.split()[-2:]
    assert Path(module_file) == REPO / "text_recognizer" / "__init__.py"
    assert Path(cwd) == REPO / "lab01", "outside Colab the cell must not change directory"


def _readme_rows() -> list[tuple[str, str]]:
    """(notebook path, status) for every row of the README's lab table."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    rows = re.findall(
        r"^\|[^\n]*\[(lab\d\d/[\w.]+\.ipynb)\][^\n]*\|\s*([^|\n]+?)\s*\|$", text, re.M
    )
    assert rows, "README.md has no lab table rows linking lab notebooks"
    return rows


def test_readme_lab_table_matches_the_notebooks():
    rows = _readme_rows()
    listed = {path for path, _ in rows}
    missing = sorted(set(_ids(NOTEBOOKS)) - listed)
    assert not missing, f"README.md's lab table does not list {missing}"
    wrong = [
        f"{path}: '{status}' but the notebook {'exists' if (REPO / path).exists() else 'is missing'}"
        for path, status in rows
        if (status == "ready") != (REPO / path).exists()
    ]
    assert not wrong, (
        "README.md lab table status is out of date (use 'ready' for notebooks that exist, "
        f"'in progress' otherwise): {wrong}"
    )
