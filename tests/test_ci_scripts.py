"""The CI scripts: scripts/readme-command (the README's commands) and scripts/fresh-chroot's offline parts.

Running a whole fresh chroot is .ci/run's job (it needs root, mmdebstrap and
the mirror); here are the pieces that decide what it runs: which commands,
from which apt sources, and how its summary reads pytest's output.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def load_script(name: str) -> ModuleType:
    """A script of scripts/ (no .py suffix) imported as a module."""
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(SCRIPTS / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module
    loader.exec_module(module)
    return module


readme_command = load_script("readme-command")
fresh_chroot = load_script("fresh-chroot")


def test_the_readme_marks_its_two_commands():
    commands = readme_command.readme_commands((ROOT / "README.md").read_text(), "README.md")
    assert sorted(commands) == ["install", "test"]
    # Prompt-free on a terminal, and only what is needed.
    for command in commands.values():
        for line in command.split(" && "):
            if " apt-get install" in f" {line}":
                prompt_free = "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
                assert line.startswith(prompt_free), line
    assert commands["install"].endswith(".venv/bin/debvenv check")
    assert commands["test"].endswith(".venv/bin/python -m pytest")


def test_the_command_is_printed_exactly(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- readme-command: install -->\n```sh\napt-get update && echo 'a  b'\n```\n")
    completed = subprocess.run([sys.executable, str(SCRIPTS / "readme-command"), "install", str(readme)],
                               capture_output=True, text=True)
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "apt-get update && echo 'a  b'\n", "")


@pytest.mark.parametrize(
    "text, line",
    [
        ("<!-- readme-command: install -->\n\n```sh\ntrue\n```\n", 2),  # the fence must follow at once
        ("<!-- readme-command: install -->\n```\ntrue\n```\n", 2),  # not a sh block
        ("<!-- readme-command: install -->\n```sh\ntrue\n", 2),  # never closed
        ("<!-- readme-command: install -->\n```sh\n\n```\n", 2),  # empty
        ("<!-- readme-command: install -->\n```sh\na\n```\n<!-- readme-command: install -->\n```sh\nb\n```\n", 5),
    ],
    ids=["blank-line", "not-sh", "unclosed", "empty", "twice"],
)
def test_a_badly_marked_command_fails_naming_the_line(tmp_path, text, line):
    readme = tmp_path / "README.md"
    readme.write_text(text)
    completed = subprocess.run([sys.executable, str(SCRIPTS / "readme-command"), "install", str(readme)],
                               capture_output=True, text=True)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert f"{readme}:{line}: " in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_missing_command_fails_loudly(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("```sh\napt-get install -y foo\n```\n")
    completed = subprocess.run([sys.executable, str(SCRIPTS / "readme-command"), "test", str(readme)],
                               capture_output=True, text=True)
    assert completed.returncode == 2
    assert "readme-command: test" in completed.stderr
    assert "Traceback" not in completed.stderr


SOURCES = ROOT / "tests" / "data" / "sources"
# The keyring tests/data/sources/debian-bookworm's Signed-By names (debian-archive-keyring, which apt depends on).
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
needs_debian_keyring = pytest.mark.skipif(
    not DEBIAN_KEYRING.is_file(), reason=f"{DEBIAN_KEYRING} is not here (debian-archive-keyring is not installed)"
)


def stanzas(archive):
    return [(uri, suites, components, keyrings) for uri, suites, components, keyrings in archive.stanzas]


def read_back(archive, tmp_path: Path):
    """The chroot's sources as debvenv (and so apt) reads them: (uri, suite, components, keyrings) per entry."""
    etc = tmp_path / "chroot-apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(archive.deb822())
    return [
        (e.type, e.uri, e.suite, e.components, fresh_chroot.aptsources.signing_keys(e, etc).keyrings)
        for e in fresh_chroot.aptsources.read_sources(etc)
    ]


@needs_debian_keyring
@pytest.mark.parametrize("suite", ["bookworm", "trixie"])
def test_the_chroot_takes_the_hosts_mirror_pockets_and_keyring(tmp_path, suite):
    # A bookworm host's sources (main archive with -updates, security archive) serve either suite.
    archive = fresh_chroot.archive_for(suite, SOURCES / "debian-bookworm")
    assert archive.keyrings == (DEBIAN_KEYRING,)
    assert stanzas(archive) == [
        ("http://mirror.example.org/debian", (suite, f"{suite}-updates"), ("main",), (DEBIAN_KEYRING,)),
        ("http://mirror.example.org/debian-security", (f"{suite}-security",), ("main",), (DEBIAN_KEYRING,)),
    ]
    assert read_back(archive, tmp_path) == [
        ("deb", "http://mirror.example.org/debian", suite, ("main",), (DEBIAN_KEYRING,)),
        ("deb", "http://mirror.example.org/debian", f"{suite}-updates", ("main",), (DEBIAN_KEYRING,)),
        ("deb", "http://mirror.example.org/debian-security", f"{suite}-security", ("main",), (DEBIAN_KEYRING,)),
    ]


@needs_debian_keyring
def test_without_updates_and_security_the_chroot_has_the_suite_alone(tmp_path):
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    host = (SOURCES / "debian-bookworm" / "sources.list.d" / "debian.sources").read_text()
    (etc / "sources.list.d" / "debian.sources").write_text(host.split("\n\n")[0].replace(" bookworm-updates", ""))
    archive = fresh_chroot.archive_for("trixie", etc)
    assert stanzas(archive) == [("http://mirror.example.org/debian", ("trixie",), ("main",), (DEBIAN_KEYRING,))]


@needs_debian_keyring
def test_pockets_of_one_archive_share_one_stanza(tmp_path):
    # Ubuntu's main archive carries -security too: one entry serves all three suites.
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "ubuntu.sources").write_text(
        "Types: deb\nURIs: http://mirror.example.org/ubuntu/\nSuites: noble noble-updates noble-security\n"
        f"Components: main universe\nSigned-By: {DEBIAN_KEYRING}\n"
    )
    archive = fresh_chroot.archive_for("noble", etc)
    assert stanzas(archive) == [(
        "http://mirror.example.org/ubuntu/", ("noble", "noble-updates", "noble-security"), ("main", "universe"),
        (DEBIAN_KEYRING,),
    )]  # fmt: skip
    assert [suite for _, _, suite, _, _ in read_back(archive, tmp_path)] == ["noble", "noble-updates", "noble-security"]


@needs_debian_keyring
def test_the_debian_archive_is_chosen_over_third_party_repositories_and_a_keyless_one_is_refused():
    # bookworm is served by a cdrom, docker's repository and a local mirror tree; the mirror tree
    # wins, but its security archive is Trusted: yes with no keyring, which mmdebstrap cannot check.
    sources = SOURCES / "third-party"
    with pytest.raises(fresh_chroot.FreshChrootError) as caught:
        fresh_chroot.archive_for("bookworm", sources)
    assert str(caught.value).startswith(f"{sources}/sources.list.d/zz-debian.sources:9: keyring not found")


def test_a_missing_keyring_is_refused():
    # Ubuntu's keyring is not installed on a Debian machine.
    if Path("/usr/share/keyrings/ubuntu-archive-keyring.gpg").exists():
        pytest.skip("ubuntu-archive-keyring is installed here")
    sources = SOURCES / "ubuntu-noble"
    with pytest.raises(fresh_chroot.FreshChrootError) as caught:
        fresh_chroot.archive_for("noble", sources)
    assert str(caught.value) == (
        f"{sources}/sources.list.d/ubuntu.sources:1: keyring not found: /usr/share/keyrings/ubuntu-archive-keyring.gpg"
    )


def test_a_suite_no_entry_serves_is_refused():
    with pytest.raises(fresh_chroot.FreshChrootError, match="can serve noble"):
        fresh_chroot.archive_for("noble", SOURCES / "debian-bookworm")


SAMPLE_TESTS = """\
import pytest


def test_passes():
    pass


def test_fails():
    assert 1 == 2


@pytest.mark.skip(reason="needs a pony")
def test_skipped():
    pass
"""


@pytest.fixture(scope="module")
def pytest_output(tmp_path_factory):
    """What this machine's pytest prints for a run with a pass, a failure and a skip, as the chroot's run prints it."""
    directory = tmp_path_factory.mktemp("sample")
    (directory / "test_sample.py").write_text(SAMPLE_TESTS)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider", "--rootdir", str(directory),
         "test_sample.py"],
        cwd=directory, capture_output=True, text=True,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stdout + completed.stderr
    return completed.stdout.splitlines()


def test_the_summary_reads_pytests_last_line_skips_and_failures(pytest_output):
    summary = fresh_chroot.pytest_summary(pytest_output)
    assert summary.startswith("1 failed, 1 passed, 1 skipped in "), summary
    [skip] = fresh_chroot.skipped(pytest_output)
    assert "test_sample.py:" in skip and skip.endswith("needs a pony"), skip
    [failure] = fresh_chroot.failed(pytest_output)
    assert failure.startswith("FAILED test_sample.py::test_fails"), failure
    assert fresh_chroot.pytest_summary(["no summary here"]) == "no pytest summary line"


def test_the_summary_line_names_each_step_and_every_skip_and_failure(pytest_output):
    steps = [
        fresh_chroot.Step("install", seconds=9.6, status=0, added=(32, 35 * 1024)),
        fresh_chroot.Step("test", seconds=243.2, status=1, added=(223, 379 * 1024 + 100), lines=pytest_output),
        fresh_chroot.Step("build-deb"),
    ]
    line = fresh_chroot.summary_line("trixie", steps, 261.4)
    summary = fresh_chroot.pytest_summary(pytest_output)
    assert line.startswith(f"trixie: FAILED: {summary} (261s in all; install passed in 10s, +32 packages, "
                           "+35 MB installed; test FAILED (1) in 243s, +223 packages, +379 MB installed; "
                           "build-deb not run in 0s); skipped: ")
    assert "needs a pony" in line
    assert line.count("\n") == 0
    assert "; 1 failing: FAILED test_sample.py::test_fails" in line


def test_a_run_that_passed_says_so_and_names_its_problem_otherwise():
    passed = [
        fresh_chroot.Step("install", status=0),
        fresh_chroot.Step("test", status=0, lines=["===== 5 passed in 1.00s ====="]),
    ]
    assert fresh_chroot.summary_line("bookworm", passed, 60) == (
        "bookworm: passed: 5 passed in 1.00s (60s in all; install passed in 0s; test passed in 0s); skipped: none"
    )
    line = fresh_chroot.summary_line("bookworm", passed, 60, problem="could not unmount /var/tmp/x/proc")
    assert line.startswith("bookworm: FAILED: ") and "; could not unmount /var/tmp/x/proc;" in line


def test_installed_packages_counts_what_dpkg_lists_installed():
    if shutil.which("dpkg-query") is None:
        pytest.skip("dpkg-query is not installed: not a Debian machine")
    listed = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}\n"], capture_output=True, text=True,
                            check=True).stdout.split("\n")
    count, kib = fresh_chroot.installed_packages(Path("/"))
    assert count == sum(1 for status in listed if status.startswith("ii"))
    assert kib > 0
