"""The cache's file system rules: nothing in it is followed out of it, nothing in it is another user's.

debvenv often runs as root, and its cache decides what it answers: a
planted symlink there would make root create or delete files elsewhere
(``suites/SLUG/lock`` linked to ``/etc/nologin``), and a directory that
another user can write would let them change root's answers. So, below the
cache's root directory (which the user chose, and may be a symlink):

- every directory is a real directory, never a symlink; it is owned by the
  user running debvenv or by root, and no one else can write to it (no
  group or other write bit). One that breaks this is refused with
  ``UnsafeCacheError`` (exit 3), naming it and the fix; debvenv never
  repairs it silently, since what it holds may already have been changed;
- directories are made 0755 and files 0644 whatever the umask: the cache
  holds public data, so other users may read a root cache, never write it;
- files are opened with ``O_NOFOLLOW``, and only regular files are read.

A cache owned by root is read by other users as it is, without writing
(``writable`` says whether this process may write it): they answer from it
without saving, as the callers arrange.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import Iterator, Union

from debvenv.errors import EnvironmentFailure

DIRECTORY_MODE = 0o755
FILE_MODE = 0o644
_UNTRUSTED_WRITE_BITS = stat.S_IWGRP | stat.S_IWOTH
# O_NONBLOCK: a planted FIFO must not block the open; it is cleared once the file is known regular.
_SAFE_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class UnsafeCacheError(EnvironmentFailure):
    """A path in the cache is a symlink, another user's, or writable by others."""


def _components(root: Path, path: Path) -> Iterator[Path]:
    """root, then each directory from root down to path (which must be below root)."""
    relative = path.relative_to(root)
    current = root
    yield current
    for part in relative.parts:
        if part in ("", ".", ".."):
            raise UnsafeCacheError(f"{path}: not a plain path below the cache {root}")
        current = current / part
        yield current


def _check(path: Path, status: os.stat_result, *, is_root: bool) -> None:
    if stat.S_ISLNK(status.st_mode) and not is_root:
        raise UnsafeCacheError(
            f"the cache path {path} is a symlink; debvenv does not follow links out of its cache "
            f"(remove it: rm {path})"
        )
    if not stat.S_ISDIR(status.st_mode):
        raise UnsafeCacheError(f"the cache path {path} is not a directory (remove it: rm {path})")
    if status.st_uid not in (os.geteuid(), 0):
        raise UnsafeCacheError(
            f"the cache directory {path} belongs to user {status.st_uid}, not to you or root; "
            f"refusing to trust what it holds (remove it, or give --cache-dir)"
        )
    if status.st_mode & _UNTRUSTED_WRITE_BITS:
        raise UnsafeCacheError(
            f"the cache directory {path} is writable by other users (mode "
            f"{stat.S_IMODE(status.st_mode):04o}); refusing to trust what it holds "
            f"(remove it: rm -r {path}, or give --cache-dir)"
        )


def check_directory(root: Path, path: Path) -> bool:
    """True when ``path`` (root or below it) exists and is trustworthy; False when some part is missing.

    Raises UnsafeCacheError for a symlink, another user's directory, or one
    others can write.
    """
    for part in _components(root, path):
        try:
            status = os.stat(part) if part == root else os.lstat(part)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise UnsafeCacheError(f"cannot read the cache directory {part}: {exc.strerror or exc}") from None
        _check(part, status, is_root=part == root)
    return True


def make_directory(root: Path, path: Path) -> None:
    """Create ``path`` and its missing parents down from ``root``, 0755, then check every part."""
    for part in _components(root, path):
        try:
            os.mkdir(part, DIRECTORY_MODE)
        except FileExistsError:
            pass
        except FileNotFoundError:
            # Only the root's parents can be missing: make them as mkdir -p would.
            os.makedirs(part, DIRECTORY_MODE, exist_ok=True)
            os.chmod(part, DIRECTORY_MODE)
        else:
            os.chmod(part, DIRECTORY_MODE)  # the umask may have taken bits away (or given them)
        status = os.stat(part) if part == root else os.lstat(part)
        _check(part, status, is_root=part == root)


def open_file(path: Union[Path, str], flags: int, *, mode: int = FILE_MODE) -> int:
    """``os.open`` that never follows a symlink and only opens regular files; a new file gets ``mode``.

    Raises UnsafeCacheError for a symlink or a special file, OSError otherwise.
    """
    created = False
    try:
        if flags & os.O_CREAT:
            try:
                fd = os.open(path, flags | os.O_EXCL | _SAFE_FLAGS, mode)
                created = True
            except FileExistsError:
                if flags & os.O_EXCL:
                    raise
                fd = os.open(path, (flags & ~os.O_CREAT) | _SAFE_FLAGS)
        else:
            fd = os.open(path, flags | _SAFE_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeCacheError(
                f"the cache path {path} is a symlink; debvenv does not follow links out of its cache "
                f"(remove it: rm {path})"
            ) from None
        raise
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise UnsafeCacheError(f"the cache path {path} is not a regular file (remove it: rm {path})")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        if created:
            os.fchmod(fd, mode)  # the umask may have taken bits away
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_file(path: Union[Path, str], limit: int) -> bytes:
    """A regular file's bytes, never through a symlink; OSError(EFBIG) past ``limit`` bytes."""
    fd = open_file(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"more than {limit} bytes", str(path))
    return data


def writable(root: Path) -> bool:
    """Whether this process may write the cache at ``root`` (or create it)."""
    probe = root
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return os.access(probe, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids)
