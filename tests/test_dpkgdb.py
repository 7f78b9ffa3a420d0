"""dpkg's database, read by us, must say what dpkg itself says."""

import subprocess
from pathlib import Path

import pytest

from debvenv.sources import dpkgdb

DATA = Path(__file__).parent / "data" / "dpkg"
REAL = dpkgdb.DEFAULT_ADMIN_DIR


def test_fixture_status_keeps_only_installed_packages():
    status = dpkgdb.read_status(DATA)
    assert {package for package, _arch in status} == {"dpkg", "libc6", "python3-six", "python3-yaml"}
    assert status[("libc6", "amd64")].architecture == "amd64"
    assert status[("python3-six", "all")].version.startswith("1.16.0")


def test_fixture_owners_of_dist_info_and_multiarch_list():
    yaml_path = next(
        line
        for line in (DATA / "info" / "python3-yaml.list").read_text().splitlines()
        if line.endswith(".dist-info")
    )
    libc_path = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    found = dpkgdb.owners([yaml_path, libc_path, "/usr/lib/python3/dist-packages/nothing-1.0.dist-info"], DATA)
    assert found[yaml_path] == ("python3-yaml", "")
    assert found.get(libc_path, ("libc6", "amd64")) == ("libc6", "amd64")
    assert "/usr/lib/python3/dist-packages/nothing-1.0.dist-info" not in found


def test_real_status_agrees_with_dpkg_query():
    query = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status} ${Package} ${Architecture} ${Version}\n"],
        capture_output=True, text=True, check=True,
    ).stdout
    expected = {
        (package, arch): version
        for state, package, arch, version in (line.split(" ") for line in query.splitlines())
        if state == "installed"
    }
    ours = {key: record.version for key, record in dpkgdb.read_status(REAL).items()}
    assert ours == expected


def test_real_owners_agree_with_dpkg_search():
    dist_info = sorted(Path("/usr/lib/python3/dist-packages").glob("*.dist-info"))[:5]
    assert dist_info, "this machine has dpkg-owned Python distributions"
    paths = [str(p) for p in dist_info]
    found = dpkgdb.owners(paths, REAL)
    for path in paths:
        answer = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True).stdout
        package = answer.split(":")[0] if answer else None
        assert (found[path][0] if path in found else None) == package


@pytest.mark.parametrize(
    "status_text, message",
    [
        ("Package: a\nStatus: install ok installed\nArchitecture: all\n", "without Version"),
        ("Package: a\nthis line has no colon\n", "expected 'Field: value'"),
    ],
)
def test_malformed_status_is_an_error_naming_the_file(tmp_path, status_text, message):
    (tmp_path / "status").write_text(status_text)
    with pytest.raises(dpkgdb.DpkgDatabaseError, match=message) as raised:
        dpkgdb.read_status(tmp_path)
    assert str(tmp_path / "status") in str(raised.value)


def test_missing_database_is_an_environment_failure(tmp_path):
    with pytest.raises(dpkgdb.DpkgDatabaseError) as raised:
        dpkgdb.read_status(tmp_path / "nowhere")
    assert raised.value.exit_code == 3
