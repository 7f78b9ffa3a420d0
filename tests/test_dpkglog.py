"""dpkg's log, as real dpkg writes it (tests/data/dpkg-root, made by scripts/cut-dpkg-log)."""

from __future__ import annotations

from pathlib import Path

import pytest

from debvenv.sources import dpkgdb
from debvenv.sources.dpkglog import default_log, removed_versions

ROOT = Path(__file__).parent / "data" / "dpkg-root"
ADMIN_DIR = ROOT / "var" / "lib" / "dpkg"
LOG = ROOT / "var" / "log" / "dpkg.log"


def test_the_last_removal_of_each_package_that_is_gone():
    removed = removed_versions(default_log(ADMIN_DIR))

    # Upgraded after install, then removed: the version removed is the upgrade's.
    assert removed == {"python3-click": "8.2.0+0.really.8.1.8-1", "python3-yaml": "6.0.2-1+b2"}
    # python3-six was removed and installed again: dpkg's status agrees that it is there.
    assert {package for package, _arch in dpkgdb.read_status(ADMIN_DIR)} == {"python3-six"}


@pytest.mark.parametrize(
    "admin_dir, log",
    [
        (Path("/var/lib/dpkg"), Path("/var/log/dpkg.log")),
        (ADMIN_DIR, LOG),
        (Path("/srv/dpkg-admin"), None),  # not a root's layout: where its log is, nobody says
    ],
)
def test_the_log_beside_the_admin_directory(admin_dir, log):
    assert default_log(admin_dir) == log


def test_a_cut_or_foreign_log_costs_only_its_detail(tmp_path):
    text = LOG.read_text()
    lines = text.splitlines()
    # A line half-written, a hostile version, a line of another program: skipped.
    (tmp_path / "dpkg.log").write_text(
        "\n".join(lines[:-1]) + "\n2026-12-04 21:16:30 remove python3-six:all 1.16.0-4"
        + "\n2026-12-04 21:16:30 remove python3-evil:all ../../etc <none>\nnot dpkg at all\n"
    )

    assert removed_versions(tmp_path / "dpkg.log") == {
        "python3-click": "8.2.0+0.really.8.1.8-1", "python3-yaml": "6.0.2-1+b2"}
    assert removed_versions(tmp_path / "absent.log") == {}
    assert removed_versions(None) == {}
    assert removed_versions(tmp_path) == {}  # a directory where the log should be
