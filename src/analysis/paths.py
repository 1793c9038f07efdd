"""Where the project's folders are, for a source checkout and for an installed package.

* In a **checkout** (``make setup`` installs the package in editable mode), the project root
  is the folder holding ``pyproject.toml`` above ``src/analysis``: ``data/``, ``reports/``
  and ``notebooks/`` are there, wherever a command or a kernel starts (JupyterLab starts
  kernels in the notebook's folder, ``notebooks/``).
* As an **installed package** (a wheel, ``pipx``, ``uv tool install``), the root is the
  folder named by ``POSTMORTEM_HOME`` if set, else the nearest folder at or above the
  working directory that holds ``data/raw`` or ``pyproject.toml``, else the working
  directory itself: ``postmortem ingest`` then writes ``./data/processed/<id>/`` and
  ``render`` ``./reports/<id>/``, never into the environment's ``lib/``. The report
  notebooks ship inside the package (:data:`PACKAGE_NOTEBOOKS`).

:func:`resolve_input` lets a relative path written for the project root (the notebooks'
default ``data/raw/proximus-2018-01-08``) work from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Reference data shipped inside the package (first names for scrubbing, geography).
PACKAGE_DATA = Path(__file__).resolve().parent / "data"

#: The package folder (``.../analysis``).
PACKAGE_DIR = Path(__file__).resolve().parent
#: The notebooks shipped inside the package (a wheel holds them here).
PACKAGE_NOTEBOOKS = PACKAGE_DIR / "notebooks"
#: Environment variable naming the project folder of an installed package.
HOME_VARIABLE = "POSTMORTEM_HOME"


def checkout_root() -> Path | None:
    """The source checkout this package is imported from, or ``None`` for an installed wheel."""
    candidate = PACKAGE_DIR.parents[1]
    if PACKAGE_DIR.parent.name == "src" and (candidate / "pyproject.toml").is_file():
        return candidate
    return None


def project_root(start: str | Path | None = None) -> Path:
    """The project folder: the checkout, else ``$POSTMORTEM_HOME``, else found from ``start`` (default: cwd).

    Walking up from ``start``, the first folder holding ``data/raw`` or ``pyproject.toml``
    wins; when there is none, ``start`` itself.
    """
    root = checkout_root()
    if root is not None:
        return root
    home = os.environ.get(HOME_VARIABLE, "").strip()
    if home:
        return Path(home).expanduser().resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "data" / "raw").is_dir() or (folder / "pyproject.toml").is_file():
            return folder
    return here


def notebooks_dir() -> Path:
    """The report notebooks: ``notebooks/`` of the checkout, else the copy inside the package."""
    root = checkout_root()
    if root is not None and (root / "notebooks" / "postmortem.ipynb").is_file():
        return root / "notebooks"
    return PACKAGE_NOTEBOOKS


def resolve_input(path: str | Path) -> Path:
    """A path to read: as given when it exists from the working directory, else under the project root.

    Absolute paths are returned unchanged. A relative path that exists under neither is
    returned as given (relative), so the error that follows names what the user wrote.
    """
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    under_root = project_root() / p
    return under_root if under_root.exists() else p


def resolve_output(path: str | Path) -> Path:
    """A folder to write: relative paths are taken under the project root (absolute ones as given)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else project_root() / p
