"""apt's login files, auth.conf (apt_auth.conf(5)), read and matched the way apt 2.6 does.

Files, in the order apt consults them (the first match wins)::

    ETC/auth.conf            Dir::Etc::netrc      (relative to ETC unless absolute)
    ETC/auth.conf.d/NAME     Dir::Etc::netrcparts: NAME of [A-Za-z0-9_.-] ending ".conf", C order

Grammar (netrc-like: tokens separated by spaces, tabs or newlines; unknown
tokens are skipped, as apt skips them; there are no comments)::

    file    = *(entry / token)
    entry   = "machine" SP machine *(("login" SP user) / ("password" SP password) / token)
    machine = [scheme "://"] host [":" port] [path]

An entry runs to the next ``machine`` token. For a request to
``scheme://host[:port]/path`` an entry matches when:

- its scheme, if written, is the request's; one without a scheme matches
  ``https`` only (apt: a login is not sent unencrypted unless the entry
  says ``http://``); such an entry that would match a plain-http request is
  reported by ``unencrypted_matches``, as apt warns about it;
- without a ``/``: it is the host (any port), or ``host:port`` exactly (the
  request's port as written in its URL; ``host:443`` does not match a URL
  that names no port);
- with a ``/``: ``host[:port]/path`` starts with it, as a plain string
  (``host/deb`` matches ``/debian/...``, ``host/deb/`` does not).

auth.conf is kept 0600 root: a file that cannot be read (as another user),
is not a regular file or is larger than 1 MiB gives no logins and is
listed in ``unreadable``, so that a refused request can say why.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Mapping, Optional, Tuple

from debvenv.sources import aptconf

NETRC = "dir::etc::netrc"
NETRC_PARTS = "dir::etc::netrcparts"
DEFAULT_NETRC = "auth.conf"
DEFAULT_NETRC_PARTS = "auth.conf.d"

_PART_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.conf$")
_MAX_BYTES = 1 << 20
_SEPARATORS = re.compile(r"[ \t]+")
_ENCRYPTED = ("https", "tor+https")


@dataclass(frozen=True)
class Match:
    """An entry that matched a request: its machine token, login and where it is written."""

    machine: str
    user: str
    password: str = field(repr=False)
    where: str = ""  # "FILE:LINE" of the machine token


@dataclass(frozen=True)
class AuthFile:
    """One auth.conf file as tokens, each with its line (never shown: passwords are tokens)."""

    path: str
    tokens: Tuple[Tuple[str, int], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class AuthConf:
    """Every readable auth.conf file, in apt's order, and the ones that could not be read."""

    files: Tuple[AuthFile, ...] = ()
    unreadable: Tuple[Tuple[str, str], ...] = ()  # (path, why)

    def login_for(self, url: str) -> Optional[Match]:
        """The login apt would send with a request for ``url``, or None."""
        for auth_file in self.files:
            found, _skipped = _match(auth_file, url)
            if found is not None and (found.user or found.password):
                return found
        return None

    def unencrypted_matches(self, url: str) -> Tuple[Match, ...]:
        """Entries without a scheme that would match ``url`` if it were https (they are not used)."""
        return tuple(skipped for auth_file in self.files for skipped in _match(auth_file, url)[1])


def parse_auth(text: str, path: str) -> AuthFile:
    """The tokens of one auth.conf file's ``text``."""
    tokens: List[Tuple[str, int]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        tokens.extend((token, number) for token in _SEPARATORS.split(line) if token)
    return AuthFile(path=path, tokens=tuple(tokens))


def auth_files(etc_dir: Path, settings: Optional[Mapping[str, aptconf.Setting]] = None) -> Tuple[Path, ...]:
    """The auth.conf files apt consults under ``etc_dir``, in its order (existing or not)."""
    settings = aptconf.read_settings(etc_dir) if settings is None else settings
    main = _configured(etc_dir, settings, NETRC, DEFAULT_NETRC)
    parts = _configured(etc_dir, settings, NETRC_PARTS, DEFAULT_NETRC_PARTS)
    files = [main] if main is not None else []
    if parts is not None:
        try:
            names = sorted(p.name for p in parts.iterdir() if _PART_NAME.match(p.name))
        except OSError:
            names = []
        files.extend(parts / name for name in names)
    return tuple(files)


def read_auth(etc_dir: Path, settings: Optional[Mapping[str, aptconf.Setting]] = None) -> AuthConf:
    """The auth.conf files of ``etc_dir`` (apt's etc directory) that can be read."""
    files: List[AuthFile] = []
    unreadable: List[Tuple[str, str]] = []
    for path in auth_files(etc_dir, settings):
        try:
            data = _read(path)
        except FileNotFoundError:
            continue
        except _Unreadable as exc:
            unreadable.append((str(path), str(exc)))
            continue
        files.append(parse_auth(data.decode("utf-8", "surrogateescape"), str(path)))
    return AuthConf(files=tuple(files), unreadable=tuple(unreadable))


class _Unreadable(Exception):
    pass


def _configured(etc_dir: Path, settings: Mapping[str, aptconf.Setting], name: str, default: str) -> Optional[Path]:
    setting = settings.get(name)
    value = default if setting is None else setting.value.strip()
    if not value:
        return None
    return etc_dir / value  # an absolute value replaces etc_dir, as apt's FindFile does


def _read(path: Path) -> bytes:
    try:
        # O_NONBLOCK: a FIFO planted there must not block the open; only a regular file is read.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _Unreadable(exc.strerror or str(exc)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Unreadable("not a regular file")
        chunks: List[bytes] = []
        size = 0
        while size <= _MAX_BYTES:
            chunk = os.read(fd, _MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise _Unreadable(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if len(data) > _MAX_BYTES:
        raise _Unreadable(f"larger than {_MAX_BYTES} bytes")
    return data


def _request(url: str) -> Tuple[str, str, bool, str, str]:
    """(scheme, host, whether a port is written, host[:port] as written, the path)."""
    scheme, _, rest = url.partition("://")
    authority = re.match(r"[^/?#]*", rest).group(0)  # type: ignore[union-attr] - always matches
    hostport = authority.rpartition("@")[2]
    path = rest[len(authority):]
    if hostport.startswith("["):
        host, _, after = hostport.partition("]")
        host += "]"
        port = after[1:] if after.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    return scheme.lower(), host, bool(port), hostport if port else host, path


def _match(auth_file: AuthFile, url: str) -> Tuple[Optional[Match], List[Match]]:
    """apt's MaybeAddAuth over one file: the entry matching ``url``, and unencrypted near-misses."""
    scheme, host, has_port, site, path = _request(url)
    skipped: List[Match] = []
    tokens = iter(auth_file.tokens)
    for token, line in tokens:
        if token != "machine":
            continue
        machine_token = next(tokens, None)
        if machine_token is None:
            break
        machine, machine_line = machine_token
        if not _machine_matches(machine, scheme, host, has_port, site, path):
            continue
        user, password = _login(tokens)
        found = Match(machine=machine, user=user, password=password, where=f"{auth_file.path}:{machine_line}")
        if "://" not in machine and scheme not in _ENCRYPTED:
            skipped.append(found)
            continue
        return found, skipped
    return None, skipped


def _machine_matches(machine: str, scheme: str, host: str, has_port: bool, site: str, path: str) -> bool:
    if "://" in machine:
        written, _, machine = machine.partition("://")
        if written != scheme:
            return False
    if "/" not in machine:
        return (has_port and machine == host) or machine == site
    return (site + path).startswith(machine)


def _login(tokens: Iterator[Tuple[str, int]]) -> Tuple[str, str]:
    """The login and password of the entry the iterator is in, up to the next ``machine``.

    As apt: the token after ``login`` or ``password`` is its value whatever it
    says; the last one written wins.
    """
    user = password = ""
    for token, _line in tokens:
        if token == "machine":
            break
        if token == "login":
            user = next(tokens, ("", 0))[0]
        elif token == "password":
            password = next(tokens, ("", 0))[0]
    return user, password
