"""debvenv.sources.aptconf: apt.conf(5) files, read for Acquire::Check-Valid-Until and Check-Date."""

from __future__ import annotations

from pathlib import Path

import pytest

from debvenv.sources.aptconf import CHECK_DATE, CHECK_VALID_UNTIL, flag, read_settings


def etc(tmp_path: Path, parts: dict, main: str = "") -> Path:
    (tmp_path / "apt.conf.d").mkdir()
    for name, text in parts.items():
        (tmp_path / "apt.conf.d" / name).write_text(text)
    if main:
        (tmp_path / "apt.conf").write_text(main)
    return tmp_path


@pytest.mark.parametrize(
    "text, value",
    [
        ('Acquire::Check-Valid-Until "false";\n', False),
        ('acquire::check-valid-until "0";', False),
        ('Acquire { Check-Valid-Until "no"; };', False),
        ('Acquire\n{\n  // a comment\n  Check-Valid-Until "off"; /* another */\n}\n', False),
        ('# apt accepts shell comments too\nAcquire::Check-Valid-Until "true";', True),
        ('Acquire::Check-Valid-Until "maybe";', None),  # not a boolean: apt's default holds
        ('Acquire::http::Proxy "http://127.0.0.1:3142";', None),
    ],
)
def test_check_valid_until_spellings(tmp_path, text, value):
    found = flag(read_settings(etc(tmp_path, {"99snapshot": text})), CHECK_VALID_UNTIL)
    assert (found[0] if found else None) == value


def test_later_files_win_and_apt_conf_is_last(tmp_path):
    settings = read_settings(etc(
        tmp_path,
        {"10a": 'Acquire::Check-Valid-Until "false";', "20b": 'Acquire::Check-Valid-Until "true";'},
        main='Acquire::Check-Date "false";\n',
    ))
    assert flag(settings, CHECK_VALID_UNTIL)[0] is True
    value, where = flag(settings, CHECK_DATE)
    assert value is False and where.where() == f"{tmp_path}/apt.conf:1"


def test_the_line_is_where_the_name_is(tmp_path):
    settings = read_settings(etc(tmp_path, {"99x": '// one\n// two\nAcquire {\n Check-Valid-Until "no";\n};\n'}))
    assert flag(settings, CHECK_VALID_UNTIL)[1].line == 4


@pytest.mark.parametrize("name", ["99x.disabled", "foo.dpkg-old", "bad name", "x~"])
def test_files_apt_ignores_are_ignored(tmp_path, name):
    settings = read_settings(etc(tmp_path, {name: 'Acquire::Check-Valid-Until "false";'}))
    assert flag(settings, CHECK_VALID_UNTIL) is None


@pytest.mark.parametrize(
    "broken",
    [
        'Acquire::Check-Valid-Until "false"',  # no ";"
        'Acquire { Check-Valid-Until "false";',  # no "}"
        'Acquire::Check-Valid-Until "false\n";',  # a line break in a string
        "}",
        "\x00\x01 binary",
    ],
)
def test_a_file_that_cannot_be_followed_sets_nothing(tmp_path, broken):
    settings = read_settings(etc(tmp_path, {"50broken": broken, "10good": 'Acquire::Check-Date "false";'}))
    assert flag(settings, CHECK_VALID_UNTIL) is None
    assert flag(settings, CHECK_DATE)[0] is False  # other files still count


def test_no_configuration_at_all(tmp_path):
    assert read_settings(tmp_path / "nowhere") == {}
    assert read_settings(Path("/dev/null")) == {}
