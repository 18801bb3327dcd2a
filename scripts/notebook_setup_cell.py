"""The setup cell of every lab notebook, kept in one place.

Every notebook of the course opens with its title, then exactly this code (the notebook
hygiene test checks both). It makes one notebook work in two places:

- on Colab it clones the course repository, installs the package with ``pip install -e
  .[train]`` (quietly) and changes into the lab's folder. The lab is found from the notebook's
  name (``lab01_pytorch.ipynb`` -> ``lab01/``), which Colab's Jupyter server reports;
- on your own machine (after ``make lab``) it does nothing, except putting the repository root,
  the parent of the notebook's folder, on ``sys.path`` when ``text_recognizer`` is not installed.

No IPython magics (``!pip``, ``%cd``), so the cell is plain Python that ruff can lint and that
runs the same under any kernel. Set ``TEXT_RECOGNIZER_REPO`` to clone a fork instead.

Notebook builders use it as ``nbformat.v4.new_code_cell(setup_cell())``. After editing it,
``python scripts/notebook_setup_cell.py --update lab*/*.ipynb`` updates every notebook.
"""

SETUP_CELL = """\
# Setup (the same first code cell in every lab). On Colab: fetch the course code and install it.
# On your own machine (`make lab`): nothing to do beyond making `text_recognizer` importable.
import os
import re
import subprocess
import sys
from pathlib import Path

REPO_URL = os.environ.get(
    "TEXT_RECOGNIZER_REPO", "https://github.com/full-stack-deep-learning/text-recognizer-labs"
)
IN_COLAB = "google.colab" in sys.modules or "COLAB_JUPYTER_IP" in os.environ

if IN_COLAB:
    import importlib.metadata
    import json
    import urllib.parse
    import urllib.request

    repo = Path("/content") / REPO_URL.rstrip("/").split("/")[-1].removesuffix(".git")
    if not repo.exists():
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", REPO_URL, str(repo)], check=True)
    try:
        importlib.metadata.version("text-recognizer")
    except importlib.metadata.PackageNotFoundError:  # first run, or an interrupted install
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "-e", f"{repo}[train]"], check=True
        )
    sys.path.insert(0, str(repo))  # the editable install is seen only by kernels started later
    try:  # Colab's Jupyter server knows this notebook's name, e.g. "lab01_pytorch.ipynb"
        host, port = os.environ["COLAB_JUPYTER_IP"], os.environ["KMP_TARGET_PORT"]
        with urllib.request.urlopen(f"http://{host}:{port}/api/sessions", timeout=5) as response:
            notebook_name = urllib.parse.unquote(json.load(response)[0]["name"])
    except Exception:
        notebook_name = ""
    match = re.search(r"lab(\\d\\d)", notebook_name)
    lab_dir = repo / f"lab{match.group(1)}" if match else repo
    os.chdir(lab_dir if lab_dir.is_dir() else repo)
    print(f"Working in {Path.cwd()}")

try:
    import text_recognizer
except ImportError:  # not installed: use the repository this notebook lives in
    sys.path.insert(0, str(Path.cwd().parent))
    import text_recognizer\
"""


def setup_cell() -> str:
    """The source of the setup cell of every lab notebook (no trailing newline)."""
    return SETUP_CELL


def update_notebook(path: str) -> bool:
    """Make ``SETUP_CELL`` the cell right after the notebook's title; True if it changed.

    The title (a markdown cell starting with ``# ``) comes first, so a reader sees what the
    notebook is before any code. An existing setup cell (a code cell that starts like
    ``SETUP_CELL``) is moved and refreshed; otherwise one is inserted.
    """
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    cells = notebook.cells
    header = SETUP_CELL.splitlines()[0].split("(")[0]  # "# Setup "
    before = [(cell.cell_type, cell.source) for cell in cells]
    setup = [c for c in cells if c.cell_type == "code" and c.source.startswith(header)]
    for cell in setup:
        cells.remove(cell)
    cell = setup[0] if setup else nbformat.v4.new_code_cell(SETUP_CELL)
    cell.source = SETUP_CELL
    title = (
        1 if cells and cells[0].cell_type == "markdown" and cells[0].source.startswith("# ") else 0
    )
    cells.insert(title, cell)
    if [(c.cell_type, c.source) for c in cells] == before:
        return False
    nbformat.write(notebook, path)
    return True


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--update"]:  # python scripts/notebook_setup_cell.py --update lab*/*.ipynb
        for notebook_path in sys.argv[2:]:
            print(
                f"{notebook_path}: {'updated' if update_notebook(notebook_path) else 'up to date'}"
            )
    else:
        print(SETUP_CELL)
