"""One file out of a binary package (.deb), read with the standard library only.

A .deb is an ``ar`` archive (deb(5))::

    deb      = "!<arch>" LF 1*member
    member   = header data [LF]          ; data padded to an even length
    header   = name(16) mtime(12) uid(6) gid(6) mode(8) size(10) "`" LF
    members  : debian-binary, control.tar[.gz|.xz|.zst], data.tar[.gz|.xz|.bz2|.zst]

The file wanted is taken from ``data.tar*``. zstd (Ubuntu's choice since
21.10) has no decompressor in the standard library before Python 3.14: such a
package is a DebFileError, and the caller falls back.

The bytes handed in must already be verified (the .deb's SHA256 against a
verified Packages index); this module only guards against a malformed file
using more memory than the file it asks for.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Dict, Tuple

from debvenv.errors import EnvironmentFailure

_MAGIC = b"!<arch>\n"
_HEADER = 60
# dh-python's name list is about 150 KiB; no file debvenv asks a .deb for is near this.
MAX_MEMBER_BYTES = 16 << 20
_TAR_MODES = {
    "data.tar": "r:",
    "data.tar.gz": "r:gz",
    "data.tar.xz": "r:xz",
    "data.tar.bz2": "r:bz2",
}


class DebFileError(EnvironmentFailure):
    """The .deb is not a Debian binary package, or lacks the file, or uses a format we cannot read."""


def read_member(deb: Path, path: str, *, limit: int = MAX_MEMBER_BYTES) -> bytes:
    """The contents of ``path`` (``usr/share/dh-python/dist/cpython3_fallback``) in ``deb``."""
    members = _ar_members(deb)
    data_names = [name for name in members if name.startswith("data.tar")]
    if not data_names:
        raise DebFileError(f"{deb}: no data.tar member: not a Debian binary package")
    name = data_names[0]
    mode = _TAR_MODES.get(name)
    if mode is None:
        raise DebFileError(f"{deb}: {name}: a compression this Python cannot read")
    offset, size = members[name]
    with deb.open("rb") as handle:
        handle.seek(offset)
        compressed = handle.read(size)
    wanted = {path.lstrip("./"), "./" + path.lstrip("./")}
    try:
        with tarfile.open(fileobj=io.BytesIO(compressed), mode=mode) as tar:
            for info in tar:
                if info.name not in wanted:
                    continue
                if not info.isfile():
                    raise DebFileError(f"{deb}: {path} is not a regular file in the package")
                if info.size > limit:
                    raise DebFileError(f"{deb}: {path}: {info.size} bytes, more than {limit}")
                extracted = tar.extractfile(info)
                assert extracted is not None  # a regular file always has one
                return extracted.read(limit + 1)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise DebFileError(f"{deb}: {name}: unreadable: {exc}") from None
    raise DebFileError(f"{deb}: no {path} in the package")


def _ar_members(deb: Path) -> Dict[str, Tuple[int, int]]:
    """Member name -> (offset of its data, size), for every member of the ar archive."""
    try:
        with deb.open("rb") as handle:
            if handle.read(len(_MAGIC)) != _MAGIC:
                raise DebFileError(f"{deb}: not an ar archive: not a .deb")
            total = deb.stat().st_size
            members: Dict[str, Tuple[int, int]] = {}
            position = len(_MAGIC)
            while position < total:
                header = handle.read(_HEADER)
                if len(header) < _HEADER or header[58:60] != b"`\n":
                    raise DebFileError(f"{deb}: a broken ar member header at byte {position}")
                name = header[:16].decode("ascii", "replace").strip().rstrip("/")
                try:
                    size = int(header[48:58].decode("ascii").strip())
                except ValueError:
                    raise DebFileError(f"{deb}: a broken ar member size at byte {position}") from None
                start = position + _HEADER
                if size < 0 or start + size > total:
                    raise DebFileError(f"{deb}: member {name} runs past the end of the file")
                members.setdefault(name, (start, size))
                position = start + size + (size % 2)
                handle.seek(position)
            return members
    except OSError as exc:
        raise DebFileError(f"{deb}: cannot read: {exc.strerror or exc}") from None
