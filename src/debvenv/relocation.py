"""Moving a venv's recorded path: virtualenv and pip write the venv's absolute path into it.

Script shebangs, the activate scripts and pip's console-script trampolines
name the directory the venv was created in, so a venv built in one place
(a package root for ``debianize``, a staging directory beside ``DIR`` for
``build`` and ``sync``) must be rewritten before it works in another.
``rewrite_tree`` replaces the old path in every regular text file (one
without NUL bytes: a path inside compiled code is a string constant that
must not change length), retargets symlinks that point into the old path,
and turns a trampoline back into a plain ``#!`` line once the new path
fits one. Byte-code needs nothing: the import system corrects a ``.pyc``'s
recorded file name when it loads it. pip's RECORD files name the venv's
files relatively and are left alone.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

from debvenv.files import write_atomically

# pip (distlib) starts a script this way when its interpreter's path is too long for a
# shebang (over 127 bytes), as a build path deep in a package root often is.
_TRAMPOLINE_RE = re.compile(rb"#!/bin/sh\n'''exec' (?P<python>/\S+) \"\$0\" \"\$@\"\n' '''\n")
_MAX_SHEBANG = 127


@dataclass(frozen=True)
class Relocation:
    """What ``rewrite_tree`` changed, as paths relative to the tree."""

    rewritten: Tuple[str, ...]  # files whose text named an old path
    relinked: Tuple[str, ...]  # symlinks retargeted
    removed_caches: int  # __pycache__ directories removed (drop_caches)


def rewrite_tree(tree: Path, old_paths: Sequence[str], final: str, *, drop_caches: bool = False) -> Relocation:
    """Make every mention of ``old_paths`` under ``tree`` name ``final`` instead (module docstring).

    ``old_paths`` are tried longest first; ``drop_caches`` also removes
    ``__pycache__`` directories (for a venv whose byte-code is compiled
    again where it is installed). Raises OSError.
    """
    olds = sorted(set(old_paths), key=len, reverse=True)
    rewritten: List[str] = []
    relinked: List[str] = []
    caches = 0
    for directory, subdirectories, names in os.walk(tree):
        if drop_caches and "__pycache__" in subdirectories:
            shutil.rmtree(os.path.join(directory, "__pycache__"))
            subdirectories.remove("__pycache__")
            caches += 1
        for name in names:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, tree)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                target = os.readlink(path)
                for old in olds:
                    if target == old or target.startswith(old + "/"):
                        os.unlink(path)
                        os.symlink(final + target[len(old):], path)
                        relinked.append(relative)
                        break
            elif stat.S_ISREG(mode) and _rewrite(Path(path), olds, final):
                rewritten.append(relative)
    return Relocation(rewritten=tuple(sorted(rewritten)), relinked=tuple(sorted(relinked)), removed_caches=caches)


def _rewrite(path: Path, old_paths: Sequence[str], final: str) -> bool:
    """Replace the old paths in a text file (one without NUL bytes); whether it changed."""
    data = path.read_bytes()
    if b"\0" in data:
        return False
    changed = data
    for old in old_paths:
        changed = changed.replace(old.encode(), final.encode())
    changed = _plain_shebang(changed)
    if changed == data:
        return False
    write_atomically(path, changed)  # keeps the file's mode (a script stays executable)
    return True


def _plain_shebang(data: bytes) -> bytes:
    """pip's trampoline turned back into ``#!PYTHON`` once the relocated path fits a shebang."""
    match = _TRAMPOLINE_RE.match(data)
    if match is None or len(match.group("python")) + 2 > _MAX_SHEBANG:
        return data
    return b"#!" + match.group("python") + b"\n" + data[match.end():]
