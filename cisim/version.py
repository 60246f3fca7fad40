"""The installed version of cisim (from the package metadata), for reports and ``--version``."""

from __future__ import annotations

from importlib import metadata

__all__ = ["version"]


def version() -> str:
    """The installed cisim version, or ``"unknown"`` when it runs from an uninstalled tree."""
    try:
        return metadata.version("cisim")
    except metadata.PackageNotFoundError:
        return "unknown"
