"""apt's auth.conf, matched as apt_auth.conf(5) and apt 2.6's MaybeAddAuth match it."""

import os
from pathlib import Path

import pytest

from debvenv.sources.aptauth import AuthConf, auth_files, parse_auth, read_auth

URL = "https://example.org/debian/dists/bookworm/InRelease"


def login(text: str, url: str = URL):
    found = AuthConf(files=(parse_auth(text, "auth.conf"),)).login_for(url)
    return None if found is None else (found.user, found.password, found.where)


# apt_auth.conf(5)'s own examples, for the entry "deb https://example.org/debian bookworm main".
@pytest.mark.parametrize(
    "machine",
    ["example.org", "example.org/deb", "example.org/debian", "example.org/debian/", "https://example.org"],
)
def test_the_manual_examples_that_apply(machine):
    assert login(f"machine {machine} login apt password debian") == ("apt", "debian", "auth.conf:1")


@pytest.mark.parametrize(
    "machine",
    ["example.org:443", "example.org/deb/", "example.org/ubuntu", "example.orga", "example.net",
     "http://example.org"],  # fmt: skip
)
def test_the_manual_examples_that_do_not_apply(machine):
    assert login(f"machine {machine} login apt password debian") is None


def test_an_entry_spans_lines_and_the_first_match_wins():
    text = "machine example.net login other password x\nmachine example.org\n  login apt\n\tpassword debian\n" \
           "machine example.org login late password later\n"  # fmt: skip
    assert login(text) == ("apt", "debian", "auth.conf:2")


@pytest.mark.parametrize(
    "machine, url, applies",
    [
        # A plain http request gets only an entry that names http:// (apt: never unencrypted unasked).
        ("127.0.0.1", "http://127.0.0.1:8080/debian/dists/x/InRelease", False),
        ("http://127.0.0.1", "http://127.0.0.1:8080/debian/dists/x/InRelease", True),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/debian/dists/x/InRelease", True),
        ("http://127.0.0.1:8081", "http://127.0.0.1:8080/debian/dists/x/InRelease", False),
        ("http://127.0.0.1:8080/debian", "http://127.0.0.1:8080/debian/dists/x/InRelease", True),
        ("http://127.0.0.1/debian", "http://127.0.0.1:8080/debian/dists/x/InRelease", False),
        ("https://127.0.0.1", "http://127.0.0.1/debian/", False),
        ("127.0.0.1", "https://127.0.0.1:8443/debian/", True),
    ],
)
def test_scheme_and_port(machine, url, applies):
    assert (login(f"machine {machine} login u password p", url) is not None) is applies


def test_an_unencrypted_match_is_not_used_but_reported():
    conf = AuthConf(files=(parse_auth("machine 127.0.0.1 login u password p\n", "a.conf"),))
    url = "http://127.0.0.1:8080/debian/dists/x/InRelease"
    assert conf.login_for(url) is None
    (skipped,) = conf.unencrypted_matches(url)
    assert (skipped.machine, skipped.where) == ("127.0.0.1", "a.conf:1")
    assert skipped.user == "u"


def test_files_in_apts_order_and_the_first_match_wins(tmp_path):
    (tmp_path / "auth.conf").write_text("machine example.net login main password m\n")
    parts = tmp_path / "auth.conf.d"
    parts.mkdir()
    (parts / "20-b.conf").write_text("machine example.org login b password b\n")
    (parts / "10-a.conf").write_text("machine example.org login a password a\n")
    (parts / "00-ignored.list").write_text("machine example.org login no password no\n")
    (parts / "05 bad name.conf").write_text("machine example.org login no password no\n")
    assert auth_files(tmp_path) == (tmp_path / "auth.conf", parts / "10-a.conf", parts / "20-b.conf")
    found = read_auth(tmp_path).login_for(URL)
    assert (found.user, found.where) == ("a", f"{parts / '10-a.conf'}:1")
    (tmp_path / "auth.conf").write_text("machine example.org login main password m\n")
    assert read_auth(tmp_path).login_for(URL).user == "main"


def test_dir_etc_netrc_settings_are_honoured(tmp_path):
    (tmp_path / "apt.conf.d").mkdir()
    (tmp_path / "apt.conf.d" / "50auth").write_text(
        'Dir::Etc::netrc "logins/main.conf";\nDir::Etc::netrcparts "/nonexistent-debvenv-parts";\n'
    )
    (tmp_path / "logins").mkdir()
    (tmp_path / "logins" / "main.conf").write_text("machine example.org login moved password m\n")
    assert auth_files(tmp_path) == (tmp_path / "logins" / "main.conf",)
    assert read_auth(tmp_path).login_for(URL).user == "moved"


def test_a_file_that_cannot_be_read_gives_no_login_and_says_why(tmp_path):
    parts = tmp_path / "auth.conf.d"
    parts.mkdir()
    os.mkfifo(parts / "fifo.conf")  # would block a plain open()
    (parts / "dir.conf").mkdir()
    (parts / "huge.conf").write_bytes(b"machine example.org login u password p\n" + b" " * (1 << 20))
    conf = read_auth(tmp_path)
    assert conf.login_for(URL) is None
    assert {Path(path).name: why for path, why in conf.unreadable} == {
        "dir.conf": "not a regular file",
        "fifo.conf": "not a regular file",
        "huge.conf": f"larger than {1 << 20} bytes",
    }


def test_no_auth_conf_at_all_is_no_login(tmp_path):
    conf = read_auth(tmp_path)
    assert conf.files == () and conf.unreadable == () and conf.login_for(URL) is None


def test_tokens_are_never_in_the_repr():
    conf = AuthConf(files=(parse_auth("machine example.org login apt password hunter2\n", "auth.conf"),))
    assert "hunter2" not in repr(conf) and "hunter2" not in repr(conf.login_for(URL))
