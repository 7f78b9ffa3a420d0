"""The installed target, read from this machine's real /usr/bin/python3 and dpkg."""

import json
import subprocess
from pathlib import Path

import pytest

from debvenv.errors import EnvironmentFailure, InputError
from debvenv.sources.installed import DEFAULT_PYTHON, load_installed

# Installed by .ci/run and the README's test command.
REQUIRED_PACKAGES = {"pyyaml": "python3-yaml", "packaging": "python3-packaging", "six": "python3-six"}


@pytest.fixture(scope="module")
def installed():
    return load_installed()


def _importlib_versions(python, names):
    script = (
        "import json, sys, importlib.metadata as m\n"
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    out = subprocess.run([str(python), "-c", script, *names], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_target_describes_the_system_interpreter(installed):
    target = installed.target
    out = subprocess.run(
        [str(DEFAULT_PYTHON), "-c", "import sys, platform; print('%d.%d' % sys.version_info[:2], platform.machine())"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert (target.id, target.kind) == ("installed", "installed")
    assert target.python == out[0]
    assert target.marker_environment["platform_machine"] == out[1]
    dpkg_arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    assert target.arch == dpkg_arch


@pytest.mark.parametrize("name, package", sorted(REQUIRED_PACKAGES.items()))
def test_versions_and_owners_match_importlib_and_dpkg(installed, name, package):
    (provider,) = installed.lookup(name)
    assert provider.package == package
    assert provider.version == _importlib_versions(DEFAULT_PYTHON, [name])[name]
    dpkg_version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=True
    ).stdout
    assert provider.debian_version == dpkg_version
    assert provider.mapping == "metadata"


def test_every_provider_is_owned_by_the_package_it_names(installed):
    checked = 0
    for providers in list(installed.providers.values())[:15]:
        for provider in providers:
            out = subprocess.run(["dpkg", "-S", provider.path], capture_output=True, text=True).stdout
            assert out.split(":")[0] == provider.package
            checked += 1
    assert checked >= 5


def test_a_venv_copy_is_foreign_never_a_debian_provider(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(
        [str(DEFAULT_PYTHON), "-m", "virtualenv", "-q", "--no-pip", "--no-setuptools", "--no-wheel",
         "--system-site-packages", str(venv)],
        check=True,
    )
    (site,) = venv.glob("lib/python3*/site-packages")
    dist_info = site / "PyYAML-99.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: PyYAML\nVersion: 99.0\n")
    index = load_installed(python=venv / "bin" / "python")
    assert [p.package for p in index.lookup("pyyaml")] == ["python3-yaml"]
    (foreign,) = index.foreign_copies("pyyaml")
    assert (foreign.name, foreign.version) == ("PyYAML", "99.0")
    assert foreign.path.startswith(str(venv)) or Path(foreign.path).resolve() == dist_info.resolve()


def test_missing_interpreter_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_installed(python=tmp_path / "python9")


def test_directory_as_interpreter_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="not an executable"):
        load_installed(python=tmp_path)


def test_interpreter_that_fails_is_an_environment_failure():
    with pytest.raises(EnvironmentFailure, match="not a working Python"):
        load_installed(python=Path("/bin/false"))
