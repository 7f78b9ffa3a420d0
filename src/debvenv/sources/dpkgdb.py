"""dpkg's database: which packages are installed, at which version, owning which files.

Grammar accepted (the admin directory, default ``/var/lib/dpkg``):

- ``status``: deb822 paragraphs separated by blank lines; each paragraph has
  ``Package``, ``Status`` (three words: want, flag, state) and, for installed
  packages, ``Version`` and ``Architecture``. Continuation lines start with a
  space or tab. Only packages whose state is ``installed`` count: a
  ``config-files`` or ``half-installed`` package provides nothing to import.
- ``info/PACKAGE.list`` or ``info/PACKAGE:ARCH.list``: one absolute path per
  line, every file and directory the package installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Dict, Iterator, Mapping, Tuple

from debvenv.errors import EnvironmentFailure

DEFAULT_ADMIN_DIR = Path("/var/lib/dpkg")


class DpkgDatabaseError(EnvironmentFailure):
    """dpkg's database is missing or malformed."""


@dataclass(frozen=True)
class InstalledPackage:
    """One package dpkg reports as installed."""

    package: str
    version: str
    architecture: str


def _paragraphs(text: str) -> Iterator[Tuple[int, Dict[str, str]]]:
    """Yield (first line number, fields) for each deb822 paragraph; only single-line values kept."""
    fields: Dict[str, str] = {}
    start = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            if fields:
                yield start, fields
                fields = {}
            continue
        if line[0] in " \t":
            continue  # continuation of a multi-line field we do not use
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"line {number}: expected 'Field: value', got {line[:60]!r}")
        if not fields:
            start = number
        fields[key] = value.strip()
    if fields:
        yield start, fields


def read_status(admin_dir: Path = DEFAULT_ADMIN_DIR) -> Mapping[Tuple[str, str], InstalledPackage]:
    """Installed packages keyed by (package, architecture)."""
    path = admin_dir / "status"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise DpkgDatabaseError(f"{path}: cannot read dpkg status: {error.strerror}") from error
    installed: Dict[Tuple[str, str], InstalledPackage] = {}
    try:
        for line, fields in _paragraphs(text):
            state = fields.get("Status", "").split()
            if len(state) != 3 or state[2] != "installed":
                continue
            try:
                package = InstalledPackage(
                    package=fields["Package"],
                    version=fields["Version"],
                    architecture=fields["Architecture"],
                )
            except KeyError as missing:
                raise ValueError(f"line {line}: installed package without {missing.args[0]}")
            installed[(package.package, package.architecture)] = package
    except ValueError as error:
        raise DpkgDatabaseError(f"{path}: malformed: {error}") from error
    return installed


def owners(paths: Collection[str], admin_dir: Path = DEFAULT_ADMIN_DIR) -> Mapping[str, Tuple[str, str]]:
    """For each of ``paths`` that some installed package lists, its (package, architecture).

    The architecture is ``""`` where the list file carries none (the
    package is then found in the status under its own architecture).
    """
    wanted = {os.fsencode(p) for p in paths}
    # Every path we ask about lives in a Python directory; skipping lists
    # that never mention one avoids splitting most of the database.
    needles = {os.path.dirname(p) for p in wanted}
    found: Dict[str, Tuple[str, str]] = {}
    info = admin_dir / "info"
    try:
        entries = os.listdir(info)
    except OSError as error:
        raise DpkgDatabaseError(f"{info}: cannot read dpkg file lists: {error.strerror}") from error
    for entry in entries:
        if not entry.endswith(".list"):
            continue
        try:
            with open(info / entry, "rb") as handle:
                data = handle.read()
        except OSError:
            continue  # a package being removed right now; dpkg holds the lock, not us
        if not any(needle in data for needle in needles):
            continue
        package, _, arch = entry[: -len(".list")].partition(":")
        for line in data.split(b"\n"):
            if line in wanted:
                found[os.fsdecode(line)] = (package, arch)
    return found
