"""``debvenv audit`` and ``sync`` against this machine's real apt, dpkg and /usr/bin/python3.

Needs python3-yaml installed (the README's test command installs it).

Offline (any user): venvs built from a wheelhouse of test wheels
(``wheelhouse.write_wheel``) with the machine's pip configuration switched
off, then changed by hand -- a venv copy deleted, the wheelhouse gone --
to see audit find it, sync repair it, and a failed sync leave the venv as
it was.

With apt and dpkg (root and the network: ``apt-get install`` fetches from
the mirror of the machine's apt sources), on two small leaf packages that
nothing on the machine depends on, checked with ``apt-get -s`` before
anything is touched (skipped, with the reason, where that does not hold):

- python3-termcolor: installed, a venv built relying on it, then
  ``apt-get remove``: audit exits 1 naming the package and the requirement,
  sync installs termcolor into the venv, audit exits 0.
- python3-mccabe: a venv built while it is absent (mccabe goes into the
  venv, from a wheel made of the package's own .deb), then ``apt-get
  install``: audit says ``redundant``, ``sync --drop-redundant`` removes the
  venv's copy and ``import mccabe`` comes from /usr/lib/python3/dist-packages.

A finalizer puts each package back as it was, even when a test fails:
purged when it was absent, reinstalled from the very .deb it had (and its
auto mark) when it was installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from wheelhouse import wheel_from_deb, write_wheel

from debvenv.audit import (
    BROKEN,
    OK,
    REDUNDANT,
    ManifestError,
    audit_venv,
    render_audit,
    render_sync,
    sync_venv,
)
from debvenv.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, EnvironmentFailure
from debvenv.requirements import read_requirements
from debvenv.venv import CHECKPOINTS, MANIFEST_NAME, build_venv, recover_leftovers

PYTHON = Path("/usr/bin/python3")
DIST_PACKAGES = "/usr/lib/python3/dist-packages/"
APT_GET = ["apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=600"]
TEST_PACKAGE = "debvenv-test-sixuser"
TEST_MODULE = "debvenv_test_sixuser"


# ---- the machine ------------------------------------------------------------------------


def installed_version(package: str) -> Optional[str]:
    completed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", package], capture_output=True, text=True
    )
    state, _, version = completed.stdout.partition(" ")
    return version if completed.returncode == 0 and state == "installed" else None


def known_to_dpkg(package: str) -> bool:
    """Installed, or removed with its configuration files kept: either way dpkg still lists it."""
    completed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${db:Status-Status}", package], capture_output=True, text=True
    )
    return completed.returncode == 0 and completed.stdout not in ("", "not-installed")


def apt_get(*args: str) -> None:
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    completed = subprocess.run([*APT_GET, *args], capture_output=True, text=True, env=environment)
    assert completed.returncode == 0, f"apt-get {' '.join(args)}: {completed.stderr}"


def simulated(action: str, package: str) -> List[str]:
    """The packages ``apt-get -s ACTION PACKAGE`` would install or remove."""
    output = subprocess.run(
        ["apt-get", "-s", action, package], capture_output=True, text=True, check=True
    ).stdout
    return sorted(line.split()[1] for line in output.splitlines() if line.startswith(("Inst ", "Remv ")))


def clean_pip_environment() -> Dict[str, str]:
    """The caller's environment without the machine's pip configuration: only the wheelhouse answers."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    environment["PIP_CONFIG_FILE"] = os.devnull
    return environment


def offline(*wheelhouses: Path) -> List[str]:
    args = ["--no-index"]
    for wheelhouse in wheelhouses:
        args += ["--find-links", str(wheelhouse)]
    return args


def build(requirements_text: str, project: Path, venv: Path, pip_args: List[str]):
    project.mkdir(parents=True, exist_ok=True)
    requirements_file = project / "requirements.txt"
    requirements_file.write_text(textwrap.dedent(requirements_text))
    return build_venv(read_requirements([requirements_file]), venv, pip_args=pip_args, env=clean_pip_environment())


def wheel_version(wheel: Path) -> str:
    """The version in a wheel's file name (``NAME-VERSION-TAGS.whl``)."""
    return wheel.name.split("-")[1]


def audit(venv: Path, **kwargs):
    return audit_venv(venv, env=clean_pip_environment(), **kwargs)


def sync(venv: Path, **kwargs):
    return sync_venv(venv, env=clean_pip_environment(), **kwargs)


def statuses(report) -> Dict[str, str]:
    return {d.key: d.status for d in report.distributions}


def module_file(venv: Path, module: str) -> str:
    completed = subprocess.run(
        [str(venv / "bin" / "python"), "-E", "-c", f"import {module}; print({module}.__file__)"],
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


def tree(directory: Path) -> Dict[str, Tuple[str, int]]:
    """Every entry under ``directory``: its content's hash (or link target) and its mode."""
    found: Dict[str, Tuple[str, int]] = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(root) / name
            status = path.lstat()
            if path.is_symlink():
                what = "-> " + os.readlink(path)
            elif path.is_file():
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                what = "dir"
            found[str(path.relative_to(directory))] = (what, status.st_mode)
    return found


def listing(directory: Path) -> List[str]:
    return sorted(os.listdir(directory))


@pytest.fixture(scope="module")
def yaml_package() -> str:
    version = installed_version("python3-yaml")
    assert version, "apt-get install -y python3-yaml first (the README's test command does)"
    return version


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    directory = tmp_path / "wheels"
    write_wheel(directory, TEST_PACKAGE, "1.0", {f"{TEST_MODULE}.py": b"import yaml\n"}, requires=["PyYAML>=5"])
    return directory


# ---- offline: what is in the venv ------------------------------------------------------


def test_a_fresh_venv_audits_clean_and_sync_leaves_it_alone(tmp_path, wheelhouse, yaml_package):
    venv = tmp_path / "venv"
    build(f"PyYAML>=5\n{TEST_PACKAGE}\n", tmp_path / "project", venv, offline(wheelhouse))
    manifest = (venv / MANIFEST_NAME).read_bytes()

    report = audit(venv)

    assert statuses(report) == {"pyyaml": OK, TEST_PACKAGE: OK}
    assert report.exit_code == EXIT_OK and report.pip_check.ran and report.pip_check.problems == ()
    assert render_audit(report, "table", quiet=True) == ""
    [pyyaml] = [d for d in report.distributions if d.key == "pyyaml"]
    assert (pyyaml.now.package, pyyaml.now.debian_version) == ("python3-yaml", yaml_package)
    assert [(d.required_by, d.origin) for d in pyyaml.demands] == [
        ("", f"{tmp_path}/project/requirements.txt:1"), (TEST_PACKAGE, f"{TEST_PACKAGE} 1.0")]
    document = json.loads(render_audit(report, "json"))
    assert document["schema"] == "debvenv.audit/1" and document["exit_code"] == EXIT_OK

    result = sync(venv)

    assert result.build is None and result.requested == () and result.removed == ()
    assert render_sync(result).startswith(f"{venv}: nothing to sync")
    assert (venv / MANIFEST_NAME).read_bytes() == manifest


def delete_from_venv(venv: Path, prefix: str) -> None:
    """What a careless ``rm -r`` in site-packages does: the distribution is gone, pip knows nothing."""
    site = next((venv / "lib").glob("python3*/site-packages"))
    for path in site.iterdir():
        if path.name.startswith(prefix):
            subprocess.run(["rm", "-r", str(path)], check=True)


def test_a_venv_copy_deleted_by_hand_is_broken_and_sync_reinstalls_it(tmp_path, wheelhouse, yaml_package):
    venv = tmp_path / "venv"
    build(f"PyYAML>=5\n{TEST_PACKAGE}==1.0\n", tmp_path / "project", venv, offline(wheelhouse))
    delete_from_venv(venv, TEST_MODULE)

    report = audit(venv)

    # PyYAML is still required at the top level: as built.
    assert statuses(report) == {"pyyaml": OK, TEST_PACKAGE: BROKEN}
    [broken] = report.with_status(BROKEN)
    assert broken.reasons == (
        f"{TEST_PACKAGE}==1.0 ({tmp_path}/project/requirements.txt:2) is not met: the venv's copy 1.0 is gone",
    )
    assert report.exit_code == EXIT_CHECK_FAILED and report.needs_attention
    assert "broken (1)" in render_audit(report, "table", quiet=True)

    result = sync(venv)  # pip's arguments are the manifest's: the same wheelhouse

    assert result.requested == (f"{TEST_PACKAGE}==1.0",)
    assert [(d.name, d.version) for d in result.installed] == [(TEST_PACKAGE, "1.0")]
    assert module_file(venv, TEST_MODULE).startswith(f"{venv}/")
    after = audit(venv)
    assert after.exit_code == EXIT_OK and statuses(after) == {"pyyaml": OK, TEST_PACKAGE: OK}
    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    assert {d["name"]: d["provenance"] for d in manifest["distributions"]} == {"PyYAML": "debian", TEST_PACKAGE: "venv"}
    assert manifest["pip"]["args"] == offline(wheelhouse)
    assert listing(tmp_path) == ["project", "venv", "wheels"]


def test_a_failed_sync_leaves_the_venv_as_it_was(tmp_path, wheelhouse, yaml_package):
    venv = tmp_path / "venv"
    build(f"{TEST_PACKAGE}\n", tmp_path / "project", venv, offline(wheelhouse))
    delete_from_venv(venv, TEST_MODULE)
    before = tree(venv)
    manifest = (venv / MANIFEST_NAME).read_bytes()
    subprocess.run(["rm", "-r", str(wheelhouse)], check=True)  # nowhere to reinstall from

    with pytest.raises(Exception) as raised:
        sync(venv)

    # pip ran and found it nowhere: the requirement is unmet (exit 1), not the machine.
    assert getattr(raised.value, "exit_code", None) == EXIT_CHECK_FAILED
    assert TEST_PACKAGE in str(raised.value)  # what pip found nowhere, in pip's words
    assert tree(venv) == before
    assert (venv / MANIFEST_NAME).read_bytes() == manifest
    assert listing(tmp_path) == ["project", "venv"]  # no copy left aside
    assert audit(venv).exit_code == EXIT_CHECK_FAILED


# The child SIGKILLs itself at the checkpoint named in argv[2] (sync_venv's test seam).
_KILLED_SYNC_SCRIPT = """
import os, signal, sys
from pathlib import Path
from debvenv.audit import sync_venv

def checkpoint(name):
    if name == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)

sync_venv(Path(sys.argv[1]), checkpoint=checkpoint)
"""


def test_a_sync_killed_anywhere_leaves_the_old_or_the_repaired_venv(tmp_path, wheelhouse, yaml_package):
    venv = tmp_path / "venv"
    build(f"{TEST_PACKAGE}\n", tmp_path / "project", venv, offline(wheelhouse))
    delete_from_venv(venv, TEST_MODULE)
    broken_manifest = (venv / MANIFEST_NAME).read_bytes()
    pristine = tmp_path / "pristine"
    subprocess.run(["cp", "-a", "--", str(venv), str(pristine)], check=True)
    reached: List[str] = []
    sync_venv(venv, env=clean_pip_environment(), checkpoint=reached.append)
    assert reached == [point for point in CHECKPOINTS if point in reached] and "removing" in reached
    swapped = reached.index("swapped")
    environment = {**clean_pip_environment(), "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}

    for position, point in enumerate(reached):
        subprocess.run(["rm", "-r", "--", str(venv)], check=True)
        subprocess.run(["cp", "-a", "--", str(pristine), str(venv)], check=True)
        killed = subprocess.run(
            [str(PYTHON), "-c", _KILLED_SYNC_SCRIPT, str(venv), point],
            env=environment, capture_output=True, text=True, timeout=300, check=False,
        )
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)

        repaired = list((venv / "lib").glob(f"python3*/site-packages/{TEST_MODULE}.py"))
        if position < swapped:
            assert (venv / MANIFEST_NAME).read_bytes() == broken_manifest and not repaired, point
        else:
            assert (venv / MANIFEST_NAME).read_bytes() != broken_manifest and repaired, point
            assert module_file(venv, TEST_MODULE).startswith(f"{venv}/"), point
        recover_leftovers(venv)
        assert listing(tmp_path) == ["pristine", "project", "venv", "wheels"], point
    assert statuses(audit(venv)) == {"pyyaml": OK, TEST_PACKAGE: OK}  # the last one, killed when done


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda path: path.unlink(), "no manifest"),
        (lambda path: path.write_text(path.read_text()[:200]), "corrupt: not JSON"),
        (lambda path: path.write_text(path.read_text().replace('"debvenv.manifest/1"', '"debvenv.manifest/2"')),
         "written by a newer debvenv"),
    ],
    ids=["missing", "truncated", "newer-schema"],
)
def test_a_bad_manifest_is_refused_and_nothing_changes(tmp_path, yaml_package, damage, message):
    venv = tmp_path / "venv"
    build("PyYAML\n", tmp_path / "project", venv, [])
    damage(venv / MANIFEST_NAME)
    before = tree(tmp_path)

    for attempt in (lambda: audit(venv), lambda: sync(venv, drop_redundant=True)):
        with pytest.raises(ManifestError, match=message) as raised:
            attempt()
        assert raised.value.exit_code == EXIT_BAD_INPUT
    assert tree(tmp_path) == before


# ---- with apt and dpkg -----------------------------------------------------------------------


@dataclass
class AptPackage:
    """A leaf package the test may install and remove; ``restore`` puts it back as it was."""

    name: str
    initial: Optional[str]  # its installed version before the test, None when absent
    automatic: bool
    deb: Path  # the .deb of the initial (else the candidate) version

    def install(self) -> None:
        apt_get("install", "--no-install-recommends", self.name)
        assert installed_version(self.name) is not None

    def remove(self) -> None:
        apt_get("remove", self.name)
        assert installed_version(self.name) is None

    def restore(self) -> None:
        now = installed_version(self.name)
        if self.initial is None:
            if now is not None or known_to_dpkg(self.name):
                apt_get("purge", self.name)
        elif now != self.initial:
            # Back from the very .deb that was installed: the mirror may have moved on.
            subprocess.run(["dpkg", "-i", str(self.deb)], capture_output=True, check=True)
            if self.automatic:
                subprocess.run(["apt-mark", "auto", self.name], capture_output=True, check=True)


@pytest.fixture
def apt_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], AptPackage]]:
    """Take charge of leaf packages for one test; each is restored however the test ends."""
    taken: List[AptPackage] = []

    def take(name: str) -> AptPackage:
        if os.geteuid() != 0:
            pytest.skip(f"installing and removing {name} needs root")
        initial = installed_version(name)
        others = [p for p in simulated("remove" if initial else "install", name) if p != name]
        if others:
            pytest.skip(f"{name} is not a leaf here: apt-get would also touch {', '.join(others)}")
        downloads = tmp_path_factory.mktemp("debs")
        fetched = subprocess.run(
            ["apt-get", "download", f"{name}={initial}" if initial else name],
            cwd=downloads, capture_output=True, text=True,
        )  # fmt: skip
        if fetched.returncode != 0:
            pytest.skip(f"cannot fetch {name}'s .deb: {fetched.stderr.strip()}")
        marked = subprocess.run(["apt-mark", "showauto", name], capture_output=True, text=True).stdout.split()
        automatic = name in marked
        package = AptPackage(name, initial, automatic, next(downloads.glob(f"{name}_*.deb")))
        taken.append(package)
        return package

    try:
        yield take
    finally:
        failures = []
        for package in reversed(taken):
            try:
                package.restore()
            except Exception as error:  # noqa: BLE001 - restore every package, then report
                failures.append(f"{package.name}: {error}")
        assert not failures, f"could not restore the machine: {failures}"


@pytest.mark.root
@pytest.mark.network
def test_apt_get_remove_breaks_the_venv_and_sync_repairs_it(tmp_path, apt_package, yaml_package):
    termcolor = apt_package("python3-termcolor")
    if termcolor.initial is None:
        termcolor.install()
    debian_version = installed_version("python3-termcolor")
    wheels = tmp_path / "wheels"
    # The venv's termcolor will be the one of this wheel: Debian's own version (1.1.0 in bookworm).
    termcolor_version = wheel_version(wheel_from_deb(termcolor.deb, "termcolor", wheels, tmp_path / "deb"))
    venv = tmp_path / "venv"
    build("termcolor>=1.1\nPyYAML>=5\n", tmp_path / "project", venv, offline(wheels))
    assert json.loads((venv / MANIFEST_NAME).read_text())["debian_packages"]["python3-termcolor"] == debian_version
    assert audit(venv).exit_code == EXIT_OK

    termcolor.remove()
    report = audit(venv)

    assert report.exit_code == EXIT_CHECK_FAILED
    assert statuses(report) == {"termcolor": BROKEN, "pyyaml": OK}
    requirement = f"termcolor>=1.1 ({tmp_path}/project/requirements.txt:1)"
    assert report.with_status(BROKEN)[0].reasons == (
        f"{requirement} is not met: python3-termcolor {debian_version} was removed",
    )
    quiet = render_audit(report, "table", quiet=True)
    assert "python3-termcolor" in quiet and "termcolor>=1.1" in quiet
    document = json.loads(render_audit(report, "json"))
    assert document["exit_code"] == EXIT_CHECK_FAILED and document["summary"]["broken"] == 1

    before = tree(venv)
    with pytest.raises(EnvironmentFailure) as raised:
        sync(venv, pip_args=["--no-index"])  # a failed sync: the venv is as it was
    assert raised.value.exit_code == EXIT_CHECK_FAILED and "termcolor" in str(raised.value)
    assert tree(venv) == before

    result = sync(venv)

    assert result.requested == ("termcolor>=1.1",)
    assert [(d.name, d.version) for d in result.installed] == [("termcolor", termcolor_version)]
    assert module_file(venv, "termcolor").startswith(f"{venv}/")
    after = audit(venv)
    assert after.exit_code == EXIT_OK
    assert statuses(after) == {"termcolor": OK, "pyyaml": OK}
    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    assert "python3-termcolor" not in manifest["debian_packages"]
    assert {d["name"]: d["provenance"] for d in manifest["distributions"]} == {"termcolor": "venv", "PyYAML": "debian"}
    assert listing(tmp_path) == ["deb", "project", "venv", "wheels"]


@pytest.mark.root
@pytest.mark.network
def test_apt_get_install_makes_a_venv_copy_redundant_and_sync_drops_it(tmp_path, apt_package, yaml_package):
    mccabe = apt_package("python3-mccabe")
    if mccabe.initial is not None:
        mccabe.remove()
    wheels = tmp_path / "wheels"
    mccabe_version = wheel_version(wheel_from_deb(mccabe.deb, "mccabe", wheels, tmp_path / "deb"))
    venv = tmp_path / "venv"
    build("mccabe>=0.6\nPyYAML>=5\n", tmp_path / "project", venv, offline(wheels))
    assert module_file(venv, "mccabe").startswith(f"{venv}/")

    mccabe.install()
    debian_version = installed_version("python3-mccabe")
    report = audit(venv)

    assert report.exit_code == EXIT_OK and report.needs_attention
    assert statuses(report) == {"mccabe": REDUNDANT, "pyyaml": OK}
    [redundant] = report.with_status(REDUNDANT)
    assert redundant.reasons == (
        f"python3-mccabe {debian_version} (mccabe {mccabe_version}) satisfies mccabe>=0.6 "
        f"({tmp_path}/project/requirements.txt:1): the venv's copy {mccabe_version} can go (sync --drop-redundant)",
    )
    assert "redundant (1)" in render_audit(report, "table", quiet=True)

    kept = sync(venv)  # without --drop-redundant the copy stays

    assert [d.name for d in kept.kept_redundant] == ["mccabe"] and kept.build is None
    assert module_file(venv, "mccabe").startswith(f"{venv}/")

    result = sync(venv, drop_redundant=True)

    assert [(c.name, c.version) for c in result.removed] == [("mccabe", mccabe_version)]
    assert result.installed == ()
    assert module_file(venv, "mccabe") == f"{DIST_PACKAGES}mccabe.py"
    after = audit(venv)
    assert after.exit_code == EXIT_OK and not after.needs_attention
    assert statuses(after) == {"mccabe": OK, "pyyaml": OK}
    manifest = json.loads((venv / MANIFEST_NAME).read_text())
    assert manifest["debian_packages"]["python3-mccabe"] == debian_version
    assert [d["provenance"] for d in manifest["distributions"] if d["name"] == "mccabe"] == ["debian"]
    assert listing(tmp_path) == ["deb", "project", "venv", "wheels"]


# ---- the apt hook ------------------------------------------------------------------------------

HOOK = Path(__file__).resolve().parents[2] / "scripts" / "apt-hook"
SRC = str(Path(__file__).resolve().parents[2] / "src")


def hook(registry: Path, *args: str) -> subprocess.CompletedProcess:
    environment = clean_pip_environment()
    environment.update(DEBVENV_VENVS=str(registry), DEBVENV=f"{PYTHON} -m debvenv", PYTHONPATH=SRC)
    return subprocess.run(
        [str(HOOK / "debvenv-audit-registered"), *args], capture_output=True, text=True, env=environment, cwd="/"
    )


def test_the_apt_conf_snippet_runs_the_hook_after_dpkg():
    dumped = subprocess.run(
        ["apt-config", "-c", str(HOOK / "99debvenv-audit"), "dump", "DPkg::Post-Invoke"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert (
        'DPkg::Post-Invoke:: "if [ -x /usr/local/sbin/debvenv-audit-registered ]; '
        'then /usr/local/sbin/debvenv-audit-registered || true; fi";'
    ) in dumped.splitlines()


def test_the_hook_is_silent_without_a_registry(tmp_path):
    completed = hook(tmp_path / "no-such-registry")

    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "", "")


def test_the_hook_reports_only_the_venvs_that_need_attention(tmp_path, wheelhouse, yaml_package):
    probe = subprocess.run(
        [str(PYTHON), "-m", "debvenv", "audit", "--help"], capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=SRC),
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip("the debvenv command line has no audit subcommand yet")
    fine, broken = tmp_path / "fine", tmp_path / "broken"
    build(f"PyYAML>=5\n{TEST_PACKAGE}\n", tmp_path / "project", fine, offline(wheelhouse))
    build(f"{TEST_PACKAGE}\n", tmp_path / "other", broken, offline(wheelhouse))
    delete_from_venv(broken, TEST_MODULE)
    registry = tmp_path / "venvs"
    registry.write_text(f"# venvs audited after every dpkg run\n\n  {fine}  \n{broken}")  # no final newline

    completed = hook(registry)

    assert completed.returncode == EXIT_CHECK_FAILED, completed.stderr
    assert completed.stdout.startswith(f"== {broken}\n")
    assert f"{TEST_PACKAGE}\n" in completed.stdout and "the venv's copy 1.0 is gone" in completed.stdout
    assert str(fine) not in completed.stdout

    registry.write_text(f"{fine}\n")
    assert hook(registry).returncode == EXIT_OK and hook(registry).stdout == ""
    registry.write_text(f"{tmp_path / 'project'}\n")  # registered, but never built by debvenv
    completed = hook(registry)
    assert completed.returncode == EXIT_BAD_INPUT and "no manifest" in completed.stdout
