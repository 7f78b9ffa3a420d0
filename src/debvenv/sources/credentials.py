"""Logins for mirrors, and the one way a URL that may carry one is shown.

A mirror URL may carry a login, as sources.list allows
(``https://user:password@host/debian``); apt's auth.conf (``aptauth``) is
the other place one comes from. Either way it is sent as HTTP Basic
authorization and nowhere else: the URL debvenv fetches from, names its
cache after, and writes into any report, message or file is the URL
without it, and wherever a URL the user wrote is shown, ``mask_url`` shows
it as ``user:***@host`` (the password hidden; a lone user is kept, as
``user@host``).

Which request gets which login (``Logins.for_url``), as apt does it:

- the URL's own login, for requests to the same scheme, host and port as
  the mirror (so a redirect within the mirror keeps it); never elsewhere;
- else the first entry of auth.conf that matches the request's URL
  (``aptauth``), also for a redirect to another host.

A login is only sent in an ``Authorization`` header that urllib does not
copy onto a redirect: each redirected request gets what ``for_url`` gives
for its own URL.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from debvenv.sources import aptauth

MASK = "***"
URL_LOGIN = "the URL"
# A URL inside a message: scheme "://" then the authority; the userinfo ends at its last "@".
_URL_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s'\"<>]*)@")
_AUTHORITY = re.compile(r"[^/?#]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Login:
    """A user and password to send to a mirror, and where they were written (never shown)."""

    user: str
    password: str = field(repr=False)
    origin: str = URL_LOGIN  # URL_LOGIN, or the auth.conf file and line

    def authorization(self) -> str:
        """The value of an ``Authorization`` header: HTTP Basic, as apt sends it."""
        raw = f"{self.user}:{self.password}".encode("utf-8", "surrogateescape")
        return "Basic " + base64.b64encode(raw).decode("ascii")


def _masked_userinfo(userinfo: str) -> str:
    user, colon, _password = userinfo.partition(":")
    return f"{user}:{MASK}@" if colon else f"{user}@"


def mask_url(url: str) -> str:
    """``url`` fit to show: ``scheme://user:***@host/...``; a URL without a login as it is.

    A URL that does not parse is masked from ``://`` to its last ``@`` as a whole:
    where its authority ends cannot be told, so nothing of it is trusted to be public.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority = _AUTHORITY.match(rest).group(0)  # type: ignore[union-attr] - always matches
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        return f"{scheme}://{_masked_userinfo(userinfo)}{hostport}{rest[len(authority):]}"
    if "@" in rest and not _parses(url):
        return f"{scheme}://{MASK}@{rest.rpartition('@')[2]}"
    return url


def _parses(url: str) -> bool:
    try:
        urllib.parse.urlsplit(url).port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return True


def mask_text(text: str) -> str:
    """``text`` with the login of every URL in it masked, as ``mask_url`` does one URL.

    The last guard, for messages that quote what the user wrote (an apt sources
    line): the URL itself is already shown through ``mask_url`` where it is known.
    """
    return _URL_IN_TEXT.sub(lambda m: m.group("scheme") + _masked_userinfo(m.group("userinfo")), text)


def split_login(url: str) -> Tuple[str, Optional[Login]]:
    """``url`` without its userinfo, and the login it carried (percent-decoded, as apt reads it)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    login = Login(user=_unquote(user), password=_unquote(password))
    return urllib.parse.urlunsplit(parts._replace(netloc=hostport)), login


def has_login(url: str) -> bool:
    """Whether ``url`` carries a ``user[:password]@`` part."""
    try:
        return "@" in urllib.parse.urlsplit(url).netloc
    except ValueError:
        return "@" in url.partition("://")[2]


def _unquote(text: str) -> str:
    return urllib.parse.unquote_to_bytes(text).decode("utf-8", "surrogateescape")


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or ""), port or _DEFAULT_PORTS.get(scheme)


@dataclass(frozen=True)
class Logins:
    """The logins that may go to one mirror: its URL's own, and apt's auth.conf."""

    mirror: str  # the mirror's base URL, without a login
    url_login: Optional[Login] = field(default=None, repr=False)
    auth: aptauth.AuthConf = field(default_factory=aptauth.AuthConf, repr=False)

    def shown(self) -> str:
        """The mirror's URL as the user wrote it, its login masked."""
        if self.url_login is None:
            return self.mirror
        scheme, _, rest = self.mirror.partition("://")
        userinfo = self.url_login.user + (":" if self.url_login.password else "")
        return mask_url(f"{scheme}://{userinfo}@{rest}")

    def for_url(self, url: str) -> Optional[Login]:
        """The login to send with a request for ``url``, or None."""
        if self.url_login is not None and _origin(url) == _origin(self.mirror):
            return self.url_login
        found = self.auth.login_for(url)
        if found is None:
            return None
        return Login(user=found.user, password=found.password, origin=found.where)

    def refused(self, url: str) -> str:
        """Why a 401 for ``url`` happened, as far as debvenv can tell; no password in it."""
        sent = self.for_url(url)
        if sent is not None:
            return f"the mirror refused the login of user {sent.user!r} from {sent.origin}"
        notes: List[str] = ["no login was sent: give one as user:password@ in the URL or in apt's auth.conf.d"]
        for skipped in self.auth.unencrypted_matches(url):
            scheme = urllib.parse.urlsplit(url).scheme
            notes.append(
                f"{skipped.where}: machine {skipped.machine} matches, but apt sends such a login over "
                f"https only; write machine {scheme}://{skipped.machine} to send it over {scheme}"
            )
        notes.extend(f"{path}: not read ({reason})" for path, reason in self.auth.unreadable)
        return "; ".join(notes)
