"""files.write_report and write_atomically against real files, device nodes, FIFOs and symlinks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from debvenv import files
from debvenv.errors import EXIT_BAD_INPUT
from debvenv.files import WriteFailure, WriteRefused, write_atomically, write_report

REPORT = "satisfied (1)\n"


def _identity(path: str) -> tuple[int, int, int, int]:
    status = os.lstat(path)
    return status.st_ino, status.st_dev, status.st_mode, status.st_rdev


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    try:
        yield lambda value: os.umask(value)
    finally:
        os.umask(previous)


def test_a_new_file_is_written_whole_with_the_umask_mode(tmp_path, umask):
    umask(0o027)
    target = tmp_path / "report.txt"
    write_report(REPORT, target)
    assert target.read_text() == REPORT
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]  # no temporary left


def test_a_regular_file_is_replaced_and_keeps_its_mode(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old contents, longer than the report\n")
    target.chmod(0o604)
    write_report(REPORT, target)
    assert target.read_text() == REPORT
    assert stat.S_IMODE(target.stat().st_mode) == 0o604


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_a_device_is_written_into_never_replaced(device):
    before = _identity(device)
    write_report(REPORT, Path(device))
    assert _identity(device) == before
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_dev_full_is_an_environment_failure_and_stays_a_device():
    before = _identity("/dev/full")
    with pytest.raises(WriteFailure):
        write_report(REPORT, Path("/dev/full"))
    assert _identity("/dev/full") == before


def test_a_fifo_with_a_reader_receives_the_report(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    ready = threading.Event()

    def read() -> None:
        ready.set()
        with open(fifo, "rb") as handle:  # blocks until the writer opens
            received.append(handle.read())

    reader = threading.Thread(target=read)
    reader.start()
    ready.wait()
    # The reader may not have opened yet: the writer refuses a FIFO nobody reads, so retry.
    for _ in range(1000):
        try:
            write_report(REPORT, fifo)
            break
        except WriteRefused:
            continue
    reader.join()
    assert received == [REPORT.encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_fifo_nobody_reads_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(WriteRefused):
        write_report(REPORT, fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_symlink_to_a_regular_file_is_refused_and_nothing_changes(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(WriteRefused):
        write_report(REPORT, link)
    assert victim.read_text() == "precious\n"
    assert link.is_symlink()


def test_a_dangling_symlink_is_refused_and_its_target_not_created(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nologin")
    with pytest.raises(WriteRefused):
        write_report(REPORT, link)
    assert not (tmp_path / "nologin").exists()
    assert link.is_symlink()


def test_a_symlink_to_a_device_is_followed():
    # /dev/stdout is such a link; /dev/null stands in for the terminal.
    before = _identity("/dev/null")
    link_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    link = link_dir / f"debvenv-test-null-{os.getpid()}"
    link.symlink_to("/dev/null")
    try:
        write_report(REPORT, link)
    finally:
        link.unlink()
    assert _identity("/dev/null") == before


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(WriteRefused):
        write_report(REPORT, tmp_path)


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(WriteRefused):
        write_report(REPORT, tmp_path / "no" / "report.txt")


def test_dash_and_dev_stdout_write_to_standard_output(tmp_path):
    code = (
        "from pathlib import Path; from debvenv.files import write_report; "
        "write_report('one\\n', '-'); write_report('two\\n', Path('/dev/stdout'))"
    )
    out = tmp_path / "out"
    with open(out, "wb") as handle:
        completed = subprocess.run([sys.executable, "-c", code], stdout=handle, check=False)
    assert completed.returncode == 0
    assert out.read_text() == "one\ntwo\n"
    assert not (tmp_path / "-").exists()


def test_write_atomically_forces_a_mode_and_refuses_a_special_file(tmp_path):
    target = tmp_path / "debvenv.json"
    write_atomically(target, b"{}\n", mode=0o644)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        write_atomically(fifo, b"{}\n")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_socket_is_refused_and_left_in_place(tmp_path):
    import socket

    path = tmp_path / "report.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    try:
        with pytest.raises(WriteRefused) as raised:
            write_report("report\n", path)
        assert raised.value.exit_code == EXIT_BAD_INPUT
        assert str(path) in str(raised.value)
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        listener.close()


def test_a_fifo_whose_writer_comes_late_is_read_whole(tmp_path):
    # Read at once, it would read as empty: "0 requirements", exit 0.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    read: list = []
    reader = threading.Thread(target=lambda: read.append(files.read_bounded(fifo, 1 << 20)))
    reader.start()
    time.sleep(0.5)  # the reader is waiting before any writer opens; no timing is asserted
    fifo.write_text("six>=1\n")
    reader.join()
    assert read == [b"six>=1\n"]


def test_a_fifo_nobody_writes_is_refused_not_waited_for_forever(tmp_path, monkeypatch):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    monkeypatch.setattr(files, "FIFO_WAIT_SECONDS", 1)
    with pytest.raises(files.InputRefused, match="nobody wrote to"):
        files.read_bounded(fifo, 1 << 20)
