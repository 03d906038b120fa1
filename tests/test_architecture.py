"""The layers of docs/architecture.md hold, and a breach of them fails `make lint`.

The contracts live in pyproject.toml ([tool.importlinter]); `make lint` runs them with
`lint-imports`. These tests run the same check on the tree as it is (kept), and on a
copy with one forbidden import added (broken), so a contract that checks nothing fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(tree / "pyproject.toml")],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # The copy, not the installed checkout, is what grimp must find.
        env={"PYTHONPATH": str(tree), "PATH": str(LINT_IMPORTS.parent)},
    )


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "templates", "questionnaires")
    for package in ("services", "workers"):
        shutil.copytree(ROOT / package, tree / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "breach", "contract"),
    [
        # A lower layer reaching up: appointments must only announce (events).
        (
            "services/appointments/booking.py",
            "from services.checkins import schedule",
            "Each layer imports only",
        ),
        # The core knowing a domain.
        ("services/core/clock.py", "from services.patients import models", "Each layer imports"),
        # services reaching into the worker.
        (
            "services/messaging/sending.py",
            "from workers import channels",
            "services never imports workers",
        ),
        # Another domain's models, not what its service.py hands out.
        (
            "services/messaging/links.py",
            "from services.patients.models import Patient",
            "patients through its service.py",
        ),
        # A domain wiring itself.
        ("services/notes/service.py", "from services import wiring", "composition roots"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, breach: str, contract: str
) -> None:
    tree = _copy(tmp_path)
    target = tree / module
    target.write_text(target.read_text() + f"\n{breach}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout
