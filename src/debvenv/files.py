"""Writing files debvenv produces: whole or not at all, and never over what is not ours.

debvenv often runs as root, so a path it is given to write (``check -o
FILE``, a manifest) may be a device node, a FIFO or a planted symlink.
The rules, by what ``FILE`` is when we look at it (``lstat``):

==================  ================================================================
missing             created whole: written under a temporary name in the same
                    directory, flushed to disk, then renamed into place; its mode
                    is 0666 less the umask, as any newly created file's
regular file        replaced the same way; it keeps its mode (and, for root, its
                    owner and group), so a report another program reads stays
                    readable by it
character or block  written into in place, never replaced (``/dev/null``, a
device, FIFO,       terminal); a FIFO nobody reads is refused rather than waited
socket              on forever
symlink             followed only when it reaches such a special file (that is
                    how ``/dev/stdout`` and ``/dev/fd/N`` work); a symlink to a
                    regular file, a directory or nothing is refused: replacing
                    through a link is how a planted ``/tmp`` symlink makes root
                    overwrite another file
directory           refused
==================  ================================================================

``-`` and ``/dev/stdout`` mean standard output, and ``/dev/stderr``,
``/dev/fd/N`` and ``/proc/self/fd/N`` the descriptor they name: whatever
it is open on (a pipe, a terminal, a file the shell redirected to) is
written to as it is, at its offset. Errors: WriteRefused (exit 2) for a path that
must not or cannot be written (missing directory, permission, a directory,
a symlink), WriteFailure (exit 3) when the system fails under us (full
disk, I/O error).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import secrets
import select
import stat
import sys
from pathlib import Path
from typing import Iterator, Optional, Union

from debvenv.errors import EnvironmentFailure, InputError

STDOUT = "-"
NEW_FILE_MODE = 0o666  # less the umask, as open(2) applies it
# The system failed under us, rather than the path being a bad choice.
_DESCRIPTOR_RE = re.compile(r"/(?:dev/fd|proc/self/fd)/([0-9]{1,9})")
_NAMED_DESCRIPTORS = {"/dev/stdout": 1, "/dev/stderr": 2, "/dev/stdin": 0}
_ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG})


class WriteRefused(InputError):
    """The path must not, or cannot, be written: a bad ``-o`` (exit 2)."""


class WriteFailure(EnvironmentFailure):
    """Writing failed because of the system: full disk, I/O error (exit 3)."""


def _error(label: str, error: OSError) -> Exception:
    reason = error.strerror or str(error)
    kind = WriteFailure if error.errno in _ENVIRONMENT_ERRNOS else WriteRefused
    return kind(f"{label}: cannot write: {reason}")


def write_atomically(path: Path, data: bytes, *, mode: Optional[int] = None) -> None:
    """Put ``data`` at ``path`` whole, replacing a regular file there (or nothing).

    ``mode`` forces the file's mode; by default a replaced file keeps its
    mode and owner and a new one gets 0666 less the umask. The file is
    flushed to disk before the rename, so a crash leaves the old file or
    the new one. Raises OSError; callers say what the file was for.
    """
    directory = path.parent if str(path.parent) else Path(".")
    try:
        before: Optional[os.stat_result] = os.lstat(path)
    except FileNotFoundError:
        before = None
    if before is not None and not stat.S_ISREG(before.st_mode):
        # Never swap out a device, a FIFO, a directory or a symlink for a regular file.
        raise OSError(errno.EINVAL, "not a regular file; refused")
    temporary = directory / f".{path.name}.{secrets.token_hex(4)}.tmp"
    # O_EXCL|O_NOFOLLOW: the temporary name is ours alone, never a file planted there.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, NEW_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            elif before is not None:
                os.fchmod(handle.fileno(), stat.S_IMODE(before.st_mode))
                if os.geteuid() == 0:
                    os.fchown(handle.fileno(), before.st_uid, before.st_gid)
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write_in_place(path: Path, data: bytes, *, follow: bool) -> bool:
    """Write into a special file at ``path``; False when it is a regular file (to replace instead)."""
    flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ENXIO:  # for a FIFO: no reader, and writing would wait forever
            try:
                mode = os.stat(path).st_mode
            except OSError:
                mode = 0
            if stat.S_ISFIFO(mode):
                raise OSError(errno.ENXIO, "a FIFO that nobody reads") from error
            if stat.S_ISSOCK(mode):
                raise OSError(errno.ENXIO, "a socket, which is not written as a file") from error
        raise
    with os.fdopen(fd, "wb", buffering=0) as handle:
        kind = os.fstat(fd).st_mode
        if stat.S_ISREG(kind) or stat.S_ISDIR(kind):
            return False
        # Blocking again: a slow reader gets all of the report, not EAGAIN.
        os.set_blocking(fd, True)
        _write_all_fd(fd, data)
    return True


def _descriptor(name: str) -> Optional[int]:
    match = _DESCRIPTOR_RE.fullmatch(name)
    return int(match.group(1)) if match else _NAMED_DESCRIPTORS.get(name)


def _write_all_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_report(text: str, output: Union[Path, str, None]) -> None:
    """Write a report to ``output`` by the rules of the module docstring (``None`` or ``-``: stdout)."""
    if output is None or str(output) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(output)
    label = f"-o {path}"
    data = text.encode("utf-8")
    descriptor = _descriptor(str(path))
    try:
        if descriptor is not None:
            if descriptor == 1:
                sys.stdout.flush()
            _write_all_fd(descriptor, data)
            return
        try:
            before = os.lstat(path)
        except FileNotFoundError:
            before = None
        if before is not None and stat.S_ISLNK(before.st_mode):
            target = os.readlink(path)
            try:
                reached = os.stat(path)
            except OSError:
                raise WriteRefused(f"{label}: is a symlink to {target}, which does not exist; refused") from None
            if stat.S_ISREG(reached.st_mode) or stat.S_ISDIR(reached.st_mode):
                raise WriteRefused(
                    f"{label}: is a symlink to {target}; debvenv does not replace a file through a "
                    "symlink: name the file itself"
                )
            if not _write_in_place(path, data, follow=True):
                raise WriteRefused(f"{label}: changed while being written; refused")
            return
        if before is not None and stat.S_ISDIR(before.st_mode):
            raise WriteRefused(f"{label}: is a directory")
        if before is not None and not stat.S_ISREG(before.st_mode):
            if _write_in_place(path, data, follow=False):
                return
        write_atomically(path, data)
    except BrokenPipeError:
        raise  # the reader went away: main() treats that as the reader's choice
    except OSError as error:
        raise _error(label, error) from error


# ---- reading inputs ------------------------------------------------------------------

MIB = 1024 * 1024
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class InputRefused(ValueError):
    """An input file debvenv will not read: too large, or not a regular file where one is needed.

    Not a DebvenvError: the caller knows where the file was named and adds that.
    """


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def describe_size(size: int) -> str:
    return f"{size / MIB:.0f} MiB" if size >= MIB else f"{size} bytes"


def read_bounded(path: Union[Path, str], limit: int, *, regular_only: bool = False) -> bytes:
    """The contents of ``path``, refusing more than ``limit`` bytes (InputRefused).

    Opening never blocks (a FIFO without a writer, a tty), so a FIFO
    named where a file is expected cannot hang the run; with
    ``regular_only`` anything but a regular file is refused before a byte
    is read (``-r /dev/zero``, an include that is a FIFO). A special file
    that is allowed (``debvenv check /dev/stdin``) is then read blocking,
    up to the limit. Raises OSError for what the system refuses.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as handle:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        regular = stat.S_ISREG(status.st_mode)
        if not regular and regular_only:
            raise InputRefused(f"{_kind(status.st_mode)}, not a regular file")
        if regular and status.st_size > limit:
            raise InputRefused(f"too large: {describe_size(status.st_size)}, the limit is {describe_size(limit)}")
        if stat.S_ISFIFO(status.st_mode):
            _await_writer(fd)
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = handle.read(min(MIB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InputRefused(f"too large: more than {describe_size(limit)}")
        return b"".join(chunks)


# How long a named FIFO may wait for its writer (`mkfifo f; producer > f & debvenv check f`).
FIFO_WAIT_SECONDS = 60


def _await_writer(fd: int) -> None:
    """Wait until a FIFO opened without blocking has had a writer, or refuse it.

    Read at once, a FIFO whose writer has not opened it yet reads as empty: an
    empty requirements set, answered "0 requirements", exit 0. Linux's poll
    reports nothing on such a FIFO until a first writer comes, so poll waits
    for it, and a FIFO nobody writes ends as an error instead of a hang.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if not poller.poll(FIFO_WAIT_SECONDS * 1000):
        raise InputRefused(f"a FIFO that nobody wrote to within {FIFO_WAIT_SECONDS} s")


def refuse_unsuitable_input(path: Path, limit: int, label: str) -> None:
    """Check a file handed to another program (gpgv's keyring) before it reads it: regular, bounded.

    Raises InputError (exit 2) naming ``label`` when ``path`` is missing,
    not a regular file (``/dev/zero``, a FIFO) or larger than ``limit``.
    """
    try:
        status = os.stat(path)
    except OSError as error:
        raise InputError(f"{label} {path}: cannot read: {error.strerror or error}") from error
    if not stat.S_ISREG(status.st_mode):
        raise InputError(f"{label} {path}: {_kind(status.st_mode)}, not a regular file")
    if status.st_size > limit:
        raise InputError(
            f"{label} {path}: too large: {describe_size(status.st_size)}, the limit is {describe_size(limit)}"
        )


# ---- swapping directories ------------------------------------------------------------

_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2(source: Path, destination: Path, flags: int) -> None:
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is None:  # a C library older than glibc 2.28
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS), str(source))
    function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    if function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(destination), flags) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), str(source), None, str(destination))


def exchange(first: Path, second: Path) -> None:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``): no moment has neither.

    Raises OSError; ENOSYS or EINVAL mean the kernel, C library or file
    system cannot, and the caller must do without.
    """
    _renameat2(first, second, _RENAME_EXCHANGE)


def rename_new(source: Path, destination: Path) -> None:
    """Rename ``source`` to ``destination``, which must not exist (not even as an empty directory)."""
    try:
        _renameat2(source, destination, _RENAME_NOREPLACE)
    except OSError as error:
        if error.errno not in (errno.ENOSYS, errno.EINVAL):
            raise
        if os.path.lexists(destination):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(destination)) from None
        os.rename(source, destination)


@contextlib.contextmanager
def locked_directory(path: Path, *, wait: bool = True) -> Iterator[Optional[int]]:
    """Hold ``flock`` on a directory: the fd, or None when it is held elsewhere (``wait=False``).

    The kernel drops the lock with the process, so a SIGKILLed holder never
    leaves a stale lock behind.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)
