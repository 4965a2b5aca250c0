"""Where the data files live: at the top of a source checkout, inside the package when installed."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`migrations` or `email_templates`. The repository keeps them beside `app/`; the wheel maps
    them into the package (setup.py), so an installed copy finds them without the checkout."""
    packaged = PACKAGE_DIR / name
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / name


MIGRATIONS_DIR = data_dir("migrations")
EMAIL_TEMPLATES_DIR = data_dir("email_templates")
