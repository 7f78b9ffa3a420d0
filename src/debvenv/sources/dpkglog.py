"""dpkg's log: which version of a package dpkg last removed.

Grammar accepted (``/var/log/dpkg.log`` beside the admin directory): one
event per line, ``YYYY-MM-DD HH:MM:SS ACTION ARGS``, where the actions read
here are ``install PKG[:ARCH] OLD NEW``, ``upgrade PKG[:ARCH] OLD NEW``,
``remove PKG[:ARCH] VERSION <none>`` and ``purge PKG[:ARCH] VERSION <none>``
(``<none>`` where there is no version). Every other line (``status``,
``configure``, ``startup``, ``conffile``, ``trigproc``, or a line that does
not parse) is skipped: the log only ever refines the wording of audit's
answer, never the answer, so a line it cannot read costs no more than the
detail it would have given.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Dict, Optional

from debvenv.debversion import DebianVersionError, parse_debian_version

# A log rotated monthly holds a few MB; what a removal needs is at its end.
MAX_TAIL = 16 * 1024 * 1024
_LINE = re.compile(
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (?P<action>install|upgrade|remove|purge) "
    r"(?P<package>[a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)? (?P<old>\S+) (?P<new>\S+)"
)
_NONE = "<none>"


def default_log(admin_dir: Path) -> Optional[Path]:
    """``ROOT/var/log/dpkg.log`` for an admin directory ``ROOT/var/lib/dpkg``; None for any other layout."""
    parts = admin_dir.parts
    if parts[-3:] != ("var", "lib", "dpkg"):
        return None
    return Path(*parts[:-3]) / "var" / "log" / "dpkg.log" if len(parts) > 3 else Path("/var/log/dpkg.log")


def removed_versions(path: Optional[Path]) -> Dict[str, str]:
    """Package -> the version its last ``remove`` (or ``purge``) removed, for packages whose last event it is.

    A package installed or upgraded after its last removal is left out: the
    log does not say what happened to it since. A missing or unreadable log
    is an empty answer.
    """
    if path is None:
        return {}
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return {}
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return {}  # a directory, FIFO or device where the log should be: nothing to learn
    with os.fdopen(fd, "rb") as handle:
        try:
            size = os.fstat(fd).st_size
            handle.seek(max(0, size - MAX_TAIL))
            data = handle.read(MAX_TAIL)
        except OSError:
            return {}
    lines = data.decode("utf-8", errors="replace").split("\n")
    if size > MAX_TAIL:
        lines = lines[1:]  # the first one is cut
    last: Dict[str, Optional[str]] = {}
    for line in lines:
        match = _LINE.fullmatch(line.rstrip("\r"))
        if match is None:
            continue
        package, action = match.group("package"), match.group("action")
        if action in ("install", "upgrade"):
            last[package] = None
            continue
        version = match.group("old")
        if match.group("new") != _NONE or version == _NONE:
            continue
        try:
            parse_debian_version(version)
        except DebianVersionError:
            continue
        if action == "remove" or last.get(package) is None:
            last[package] = version
    return {package: version for package, version in last.items() if version is not None}

