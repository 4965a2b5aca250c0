"""The running version, for `newsletter --version` and the build-info metric."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version


def version() -> str:
    try:
        return package_version("nyhetsbrev")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"


def python_version() -> str:
    return platform.python_version()
