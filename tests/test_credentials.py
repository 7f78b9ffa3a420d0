"""Logins for mirrors: sent as HTTP Basic where they belong, and never shown anywhere.

The end-to-end tests run the CLI against the signed loopback archive served
behind a Basic-auth check, and look for the password in everything debvenv
printed or wrote: stdout, stderr, every report format, plan's files, and the
whole cache tree (names and contents, state.json included).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from debvenv.sources.aptauth import AuthConf, parse_auth
from debvenv.sources.credentials import Login, Logins, mask_text, mask_url, split_login
from signed_archive import build_signed_archive

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
NO_APT_CONFIG = DATA / "sources" / "no-apt-config"
USER = "alice"
PASSWORD = "s3cret-Pa55"  # looked for in everything debvenv writes


# ---- masking and splitting ----------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://alice:pw@127.0.0.1:8080/debian", "http://alice:***@127.0.0.1:8080/debian"),
        ("https://alice@127.0.0.1/debian", "https://alice@127.0.0.1/debian"),
        ("https://alice:@127.0.0.1/debian", "https://alice:***@127.0.0.1/debian"),
        ("http://127.0.0.1/debian", "http://127.0.0.1/debian"),
        ("http://127.0.0.1/~alice@work/debian", "http://127.0.0.1/~alice@work/debian"),  # "@" in the path
        ("http://a:p@ss@127.0.0.1/debian", "http://a:***@127.0.0.1/debian"),  # the last "@" ends it
        # Not a URL that parses: from "://" to the last "@" is hidden as a whole.
        ("http://alice:pa/ss@127.0.0.1/debian", "http://***@127.0.0.1/debian"),
        ("http://alice:pw@[::1", "http://alice:***@[::1"),
        ("file://alice:pw@localhost/srv", "file://alice:***@localhost/srv"),
        ("bookworm", "bookworm"),
    ],
)
def test_mask_url(url, shown):
    assert mask_url(url) == shown


def test_mask_text_masks_every_url_in_a_message():
    text = "line 3: expected 'deb URI SUITE', got 'deb http://a:pw@127.0.0.1/debian' (see https://b:pw2@127.0.0.2/x)"
    assert mask_text(text) == "line 3: expected 'deb URI SUITE', got 'deb http://a:***@127.0.0.1/debian' (see https://b:***@127.0.0.2/x)"


def test_split_login_decodes_as_apt_does():
    url, login = split_login("https://al%40ice:p%3Ass%2Fw@127.0.0.1:8443/debian")
    assert url == "https://127.0.0.1:8443/debian"
    assert (login.user, login.password) == ("al@ice", "p:ss/w")
    assert login.authorization() == "Basic " + base64.b64encode(b"al@ice:p:ss/w").decode()
    assert "p:ss/w" not in repr(login)
    assert split_login("http://127.0.0.1/debian") == ("http://127.0.0.1/debian", None)


def test_the_urls_login_goes_to_its_own_origin_only():
    logins = Logins(
        mirror="https://127.0.0.1:8443/debian",
        url_login=Login(user="u", password="p"),
        auth=AuthConf(files=(parse_auth("machine http://127.0.0.2 login other password o\n", "a.conf"),)),
    )
    assert logins.for_url("https://127.0.0.1:8443/debian/dists/x/InRelease").user == "u"
    assert logins.for_url("https://127.0.0.1:8443/elsewhere/").user == "u"  # a redirect within it
    for other in ("http://127.0.0.1:8443/debian/", "https://127.0.0.1/debian/", "https://127.0.0.3:8443/"):
        assert logins.for_url(other) is None
    # Another host gets what auth.conf names for it, and says where that came from.
    other = logins.for_url("http://127.0.0.2/debian/")
    assert (other.user, other.origin) == ("other", "a.conf:1")
    assert logins.shown() == "https://u:***@127.0.0.1:8443/debian"


# ---- end to end: the CLI against the archive behind Basic auth ------------------------


def _archive_files() -> dict:
    return {
        "main/binary-amd64/Packages.xz": (DATA / "Packages").read_bytes(),
        "main/Contents-all.gz": (DATA / "Contents-all").read_bytes(),
        "main/Contents-amd64.gz": (DATA / "Contents-amd64").read_bytes(),
    }


@pytest.fixture
def archive(tmp_path, signing_key):
    root = tmp_path / "mirror"
    build_signed_archive(root, "bookworm", _archive_files(), key=signing_key)
    return root


class Run:
    """The CLI with a private cache and the test's keyring; every output kept for the search."""

    def __init__(self, tmp_path: Path, keyring: Path, etc_dir: Path = NO_APT_CONFIG) -> None:
        self.tmp_path = tmp_path
        self.cache = tmp_path / "cache"  # XDG_CACHE_HOME: debvenv's cache is cache/debvenv
        self.keyring = keyring
        self.etc_dir = etc_dir
        self.outputs: list = []
        (tmp_path / "requirements.txt").write_text("PyYAML>=5\n")

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        command, rest = args[0], args[1:]
        env = dict(os.environ, XDG_CACHE_HOME=str(self.cache), PYTHONPATH=str(ROOT / "src"))
        options = ["--apt-etc-dir", str(self.etc_dir), "--keyring", str(self.keyring), "--arch", "amd64",
                   "--components", "main"]  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "debvenv", command, *options, *rest],
            capture_output=True, text=True, cwd=self.tmp_path, env=env,
        )  # fmt: skip
        assert "Traceback" not in result.stderr, result.stderr
        self.outputs.append(result.stdout + result.stderr)
        return result

    def assert_password_nowhere(self, *directories: Path) -> None:
        """Not in any output so far, nor in any name or content under the cache and ``directories``."""
        for text in self.outputs:
            assert PASSWORD not in text, text
        for written in (self.cache,) + directories:
            assert written.exists() or written == self.cache, written
            for path in [written] if written.is_file() else written.rglob("*"):
                assert PASSWORD not in str(path)
                if path.is_file() and not path.is_symlink():
                    assert PASSWORD.encode() not in path.read_bytes(), path


def _with_login(url: str, user: str = USER, password: str = PASSWORD) -> str:
    return url.replace("http://", f"http://{user}:{password}@", 1)


def test_without_a_login_the_target_fails_with_401_and_the_others_are_answered(
    tmp_path, archive, signing_key, serve_http
):
    guarded = serve_http(archive, login=(USER, PASSWORD))
    open_mirror = serve_http(archive)
    run = Run(tmp_path, signing_key.keyring)
    result = run("check", "-t", f"bookworm@{guarded}", "-t", f"bookworm@{open_mirror}", "--format", "json")
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    failed, answered = report["targets"]
    assert "HTTP 401" in failed["error"] and "no login was sent" in failed["error"]
    assert answered["error"] is None
    (row,) = report["requirements"]
    assert row["results"][answered["id"]]["status"] == "satisfied"
    assert f"bookworm@{guarded.rstrip('/')}" in result.stderr and "HTTP 401" in result.stderr


def test_a_login_in_the_url_is_sent_and_never_shown(tmp_path, archive, signing_key, serve_http):
    seen: list = []
    url = serve_http(archive, login=(USER, PASSWORD), seen=seen)
    target = f"bookworm@{_with_login(url)}"
    shown = f"bookworm@{url.replace('http://', f'http://{USER}:***@')}"
    run = Run(tmp_path, signing_key.keyring)

    result = run("check", "-t", target, "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [t["id"] for t in report["targets"]] == [shown]
    assert report["requirements"][0]["results"][shown]["status"] == "satisfied"
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert seen and all(header == f"Basic {token}" for _path, header in seen)

    for report_format in ("table", "markdown", "html"):
        result = run("check", "-t", target, "--format", report_format)
        assert result.returncode == 0 and f"{USER}:***@" in result.stdout, result.stdout
    result = run("check", "-t", target, "--format", "html", "-o", str(tmp_path / "report.html"))
    assert result.returncode == 0
    result = run("which", "pyyaml", "-t", target)
    assert result.returncode == 0 and "python3-yaml" in result.stdout and shown in result.stdout
    result = run("plan", "-t", target, "-o", str(tmp_path / "plan"))
    assert result.returncode == 0, result.stderr
    assert shown in (tmp_path / "plan" / "venv-requirements.txt").read_text()
    (tmp_path / "app").mkdir()
    result = run("debianize", "requirements.txt", "-t", target, "--name", "hello", "--version", "1.0",
                 "--maintainer", "A Person <a@example.org>", "-o", str(tmp_path / "app"))  # fmt: skip
    assert result.returncode == 0 and shown in result.stdout, result.stderr
    # --mirror with a login, and the cache's view of it.
    result = run("index", "bookworm", "--mirror", _with_login(url), "--format", "json")
    assert result.returncode == 0, result.stderr
    (suite,) = json.loads(result.stdout)
    assert suite["mirror"] == url.replace("http://", f"http://{USER}:***@").rstrip("/")
    states = list((run.cache / "debvenv" / "suites").glob("*/state.json"))
    assert len(states) == 1 and json.loads(states[0].read_text())["mirror"] == url.rstrip("/")
    run.assert_password_nowhere(tmp_path / "plan", tmp_path / "report.html", tmp_path / "app")


def test_two_passwords_for_one_mirror_share_its_cache(tmp_path, archive, signing_key, serve_http):
    url = serve_http(archive)  # no check: the login is not what keys the cache
    run = Run(tmp_path, signing_key.keyring)
    for password in ("first-pw", "second-pw"):
        result = run("check", "-t", f"bookworm@{_with_login(url, password=password)}", "--refresh")
        assert result.returncode == 0, result.stderr
    (suite_dir,) = (run.cache / "debvenv" / "suites").iterdir()
    for path in run.cache.rglob("*"):
        assert "first-pw" not in str(path) and "second-pw" not in str(path)
    assert b"-pw" not in (suite_dir / "state.json").read_bytes()


def test_a_refused_login_says_whose_it_was_not_what_it_was(tmp_path, archive, signing_key, serve_http):
    url = serve_http(archive, login=(USER, PASSWORD))
    run = Run(tmp_path, signing_key.keyring)
    wrong = "wr0ng-Pa55"
    result = run("check", "-t", f"bookworm@{_with_login(url, password=wrong)}")
    assert result.returncode == 3
    assert "HTTP 401" in result.stderr and f"user '{USER}' from the URL" in result.stderr
    assert wrong not in result.stderr + result.stdout


def test_one_target_with_two_passwords_is_bad_input(tmp_path, signing_key):
    run = Run(tmp_path, signing_key.keyring)
    base = "http://127.0.0.1:9/debian"
    result = run("check", "-t", f"bookworm@{_with_login(base)}", "-t", f"bookworm@{_with_login(base, password='x')}")
    assert result.returncode == 2 and "different passwords" in result.stderr
    run.assert_password_nowhere()


def _etc_with_auth(tmp_path: Path, text: str) -> Path:
    etc = tmp_path / "etc-apt"
    (etc / "auth.conf.d").mkdir(parents=True)
    (etc / "auth.conf.d" / "mirror.conf").write_text(text)
    (etc / "auth.conf.d" / "mirror.conf").chmod(0o600)
    return etc


def test_a_login_from_auth_conf_d_is_sent_over_http_only_when_the_entry_says_http(
    tmp_path, archive, signing_key, serve_http
):
    url = serve_http(archive, login=(USER, PASSWORD))
    host_port = url.split("://", 1)[1].rstrip("/")
    etc = _etc_with_auth(tmp_path, f"machine {host_port}\nlogin {USER}\npassword {PASSWORD}\n")
    run = Run(tmp_path, signing_key.keyring, etc_dir=etc)
    # As apt: an entry without a scheme is for https only; the refusal says how to fix it.
    result = run("check", "-t", f"bookworm@{url}")
    assert result.returncode == 3
    assert "HTTP 401" in result.stderr and f"write machine http://{host_port}" in result.stderr
    (etc / "auth.conf.d" / "mirror.conf").write_text(
        f"machine http://{host_port} login {USER} password {PASSWORD}\n"
    )
    result = run("check", "-t", f"bookworm@{url}", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["targets"][0]["id"] == f"bookworm@{url}"
    result = run("plan", "-t", f"bookworm@{url}", "-o", str(tmp_path / "plan"))
    assert result.returncode == 0, result.stderr
    run.assert_password_nowhere(tmp_path / "plan")


def test_a_login_in_an_apt_sources_line_is_used_and_never_shown(tmp_path, archive, signing_key, serve_http):
    url = serve_http(archive, login=(USER, PASSWORD))
    etc = tmp_path / "etc-apt"
    etc.mkdir()
    (etc / "sources.list").write_text(f"deb [signed-by={signing_key.keyring}] {_with_login(url)} bookworm main\n")
    run = Run(tmp_path, signing_key.keyring, etc_dir=etc)
    result = run("check", "-t", "bookworm", "--format", "json")
    assert result.returncode == 0, result.stderr
    result = run("index", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["mirror"].startswith(f"http://{USER}:***@")
    # A malformed line quoting the URI says so with the password masked.
    (etc / "sources.list").write_text(f"deb {_with_login(url)}\n")
    result = run("check", "-t", "bookworm")
    assert result.returncode == 3 and "sources.list:1" in result.stderr
    run.assert_password_nowhere()


def test_a_redirect_to_another_host_does_not_carry_the_login(tmp_path, archive, signing_key, serve_http):
    elsewhere_seen: list = []
    elsewhere = serve_http(archive, seen=elsewhere_seen)
    url = serve_http(archive, login=(USER, PASSWORD), redirect_to=elsewhere)
    run = Run(tmp_path, signing_key.keyring)
    result = run("check", "-t", f"bookworm@{_with_login(url)}")
    assert result.returncode == 0, result.stderr
    assert elsewhere_seen and all(header is None for _path, header in elsewhere_seen)


@pytest.mark.parametrize("where", ["target", "--mirror"])
def test_a_login_in_a_file_url_is_bad_input(tmp_path, signing_key, where):
    run = Run(tmp_path, signing_key.keyring)
    url = f"file://{USER}:{PASSWORD}@localhost{tmp_path}/mirror"
    args = ("-t", f"bookworm@{url}") if where == "target" else ("-t", "bookworm", "--mirror", url)
    result = run("check", *args)
    assert result.returncode == 2, result.stderr
    assert "must not carry a login" in result.stderr and f"{USER}:***@" in result.stderr
    run.assert_password_nowhere()
