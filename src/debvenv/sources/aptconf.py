"""apt's configuration files (apt.conf(5)), read for the few options debvenv honours.

Files, in the order apt reads them (a later value wins)::

    ETC/apt.conf.d/NAME     NAME of [A-Za-z0-9_.-] only, no extension or ".conf", in C order
    ETC/apt.conf

Grammar (the part of apt.conf(5) that sets values)::

    file      = *(statement / comment)
    statement = name [SP value] ";"         ; Acquire::Check-Valid-Until "false";
              / name "{" *statement "}" [";"]  ; Acquire { Check-Valid-Until "false"; };
              / "#" directive LF           ; #include, #clear: not followed here
    name      = part *("::" part)          ; case-insensitive
    value     = DQUOTE *(not DQUOTE) DQUOTE
    comment   = "//" to end of line / "/*" to "*/" / "#" to end of line

A file this reader cannot follow is skipped as a whole, never guessed at:
debvenv only looks here for a reason to accept an expired Release, and
none is the safe answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

CHECK_VALID_UNTIL = "acquire::check-valid-until"
CHECK_DATE = "acquire::check-date"

# apt.conf(5): only these characters, and no extension or ".conf" (after the last ".").
_PART_NAME = re.compile(r"^(?:[A-Za-z0-9_-]+|[A-Za-z0-9_.-]+\.conf)$")
_TOKEN = re.compile(
    r'(?P<space>\s+)'
    r'|(?P<comment>//[^\n]*|/\*.*?\*/|#[^\n]*)'
    r'|(?P<string>"[^"\n]*")'
    r'|(?P<open>\{)|(?P<close>\})|(?P<end>;)'
    r'|(?P<name>[A-Za-z0-9_./+:-]+)',
    re.DOTALL,
)
# apt's FindB: these spellings are false, the opposites true; anything else keeps the default.
_FALSE = {"no", "false", "without", "off", "disable", "0"}
_TRUE = {"yes", "true", "with", "on", "enable", "1"}
# apt.conf files are small; one this large is not a configuration file.
_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Setting:
    """One option's last value, and where it was set."""

    value: str
    file: Path
    line: int

    def where(self) -> str:
        return f"{self.file}:{self.line}"


class _Unreadable(Exception):
    pass


def read_settings(etc_dir: Path) -> Mapping[str, Setting]:
    """Lower-cased option name -> its last value, over apt.conf.d/* and then apt.conf."""
    settings: Dict[str, Setting] = {}
    for path in _files(etc_dir):
        try:
            # Whole or nothing: a file that breaks off halfway sets none of its values.
            found = list(_statements(_read(path)))
        except _Unreadable:
            continue
        for name, value, line in found:
            settings[name.lower()] = Setting(value=value, file=path, line=line)
    return settings


def flag(settings: Mapping[str, Setting], name: str) -> Optional[Tuple[bool, Setting]]:
    """A boolean option as apt reads it: (value, where), or None when unset or not a boolean."""
    setting = settings.get(name.lower())
    if setting is None:
        return None
    word = setting.value.strip().lower()
    if word in _FALSE:
        return False, setting
    if word in _TRUE:
        return True, setting
    return None


def _files(etc_dir: Path) -> List[Path]:
    parts = etc_dir / "apt.conf.d"
    try:
        names = sorted(p.name for p in parts.iterdir() if _PART_NAME.match(p.name))
    except OSError:
        names = []
    return [parts / name for name in names] + [etc_dir / "apt.conf"]


def _read(path: Path) -> str:
    try:
        if not path.is_file():
            raise _Unreadable()
        with path.open("rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except OSError:
        raise _Unreadable() from None
    if len(data) > _MAX_BYTES:
        raise _Unreadable()
    return data.decode("utf-8", "replace")


def _statements(text: str) -> Iterator[Tuple[str, str, int]]:
    """(full option name, value, line) for each value set in ``text``."""
    scopes: List[str] = []
    pending: Optional[str] = None  # a name read, waiting for its value, "{" or ";"
    value: Optional[str] = None
    name_line = 0
    pos = 0
    line = 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _Unreadable()
        kind, token = match.lastgroup, match.group(0)
        here = line
        line += token.count("\n")
        pos = match.end()
        if kind in ("space", "comment"):
            continue
        if kind == "name":
            if pending is not None:
                raise _Unreadable()
            pending, name_line = token, here
        elif kind == "string":
            if pending is None or value is not None:
                raise _Unreadable()
            value = token[1:-1]
        elif kind == "open":
            if pending is None or value is not None:
                raise _Unreadable()
            scopes.append(pending)
            pending = None
        elif kind == "close":
            if not scopes or pending is not None:
                raise _Unreadable()
            scopes.pop()
        elif kind == "end":
            if pending is not None and value is not None:
                yield "::".join(scopes + [pending]), value, name_line
            pending, value = None, None
    if scopes or pending is not None:
        raise _Unreadable()
