"""Wheels made by the tests, offline: the wheel format (PEP 427) written out with zipfile.

A wheel is a zip holding the distribution's files and ``NAME-VERSION.dist-info/``
with ``METADATA``, ``WHEEL`` and ``RECORD`` (every file's urlsafe-base64
SHA256 and size). Nothing is built: pip installs these as it installs any
pure-Python wheel.
"""

from __future__ import annotations

import base64
import email.parser
import hashlib
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Dict, Mapping, Sequence


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"sha256={digest}"


def write_wheel(
    directory: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes],
    *,
    requires: Sequence[str] = (),
    metadata: str = "",
) -> Path:
    """Write ``name-version-py3-none-any.whl`` into ``directory``; return its path.

    ``metadata`` replaces the generated METADATA (e.g. a Debian package's
    own PKG-INFO, whose headers are the same format).
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[-_.]+", "_", name)
    dist_info = f"{stem}-{version}.dist-info"
    if not metadata:
        metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
            f"Requires-Dist: {requirement}\n" for requirement in requires
        )
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = metadata.encode("utf-8")
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: debvenv-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items())
    record += f"{dist_info}/RECORD,,\n"
    path = directory / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in contents.items():
            archive.writestr(member, data)
        archive.writestr(f"{dist_info}/RECORD", record)
    return path


def wheel_from_dist_packages(site: Path, module: str, directory: Path) -> Path:
    """A wheel of the distribution a Debian python3-* package installs as one module plus its metadata.

    For python3-six: ``six.py`` (or, for others such as trixie's
    python3-termcolor, the package directory) and, in ``site``
    (``usr/lib/python3/dist-packages``), either ``six-VERSION.egg-info``
    (its ``PKG-INFO``, or the egg-info file itself) or
    ``six-VERSION.dist-info/METADATA``, whichever the package ships
    (bookworm's six has an egg-info, trixie's a dist-info); that metadata
    becomes the wheel's METADATA.
    """
    infos = sorted(site.glob(f"{module}-*.egg-info")) + sorted(site.glob(f"{module}-*.dist-info"))
    if len(infos) != 1:
        raise FileNotFoundError(f"expected one {module}-*.egg-info or {module}-*.dist-info in {site}, found {infos}")
    (info,) = infos
    if info.suffix == ".dist-info":
        metadata_file = info / "METADATA"
    else:
        metadata_file = info / "PKG-INFO" if info.is_dir() else info
    metadata = metadata_file.read_text(encoding="utf-8")
    headers = email.parser.HeaderParser().parsestr(metadata)
    return write_wheel(
        directory,
        headers["Name"],
        headers["Version"],
        _module_files(site, module),
        metadata=metadata,
    )


def _module_files(site: Path, module: str) -> Dict[str, bytes]:
    """``module.py``, or every file of the package directory ``module/`` (bytecode left out)."""
    if (site / f"{module}.py").is_file():
        return {f"{module}.py": (site / f"{module}.py").read_bytes()}
    if (site / module).is_dir():
        return {
            path.relative_to(site).as_posix(): path.read_bytes()
            for path in sorted((site / module).rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        }
    raise FileNotFoundError(f"neither {module}.py nor {module}/ in {site}")


def wheel_from_deb(deb: Path, module: str, directory: Path, scratch: Path) -> Path:
    """``wheel_from_dist_packages`` over the files of a .deb, unpacked into ``scratch``."""
    subprocess.run(["dpkg-deb", "-x", str(deb), str(scratch)], check=True)
    return wheel_from_dist_packages(scratch / "usr/lib/python3/dist-packages", module, directory)
