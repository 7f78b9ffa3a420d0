"""Test helper: a tiny signed Debian archive, made with the real gpg, and a loopback HTTP server.

``build_signed_archive`` writes ``dists/SUITE/`` the way a Debian mirror lays
it out: the index files (compressed by the name's suffix: ``.gz`` or ``.xz``),
a Release listing every file's size and SHA256 (and, as Debian does, the
uncompressed variant's too), an ``InRelease`` clearsigned with a throwaway
key and a detached ``Release.gpg``. Tests tamper with the files afterwards.

Fixtures (registered in conftest.py): ``signing_key`` (one ed25519 key per
session), ``other_signing_key`` (a second, unrelated key), ``expired_signing_key``
(a key that expired in 2021, made with gpg's faked system time), and
``serve_http`` (a function serving a directory over 127.0.0.1, stopped at
the end of the test).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import hashlib
import lzma
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator, List, Mapping, Optional, Sequence, Tuple

import pytest

GPG = "gpg"

# A fixed point so that fixtures' signatures and Release dates are reproducible in messages.
DEFAULT_DATE = datetime(2025, 5, 10, 9, 3, 15, tzinfo=timezone.utc)


@dataclass(frozen=True)
class SigningKey:
    """A throwaway secret key in its own GNUPGHOME, with its public half exported."""

    home: Path  # GNUPGHOME holding the secret key
    fingerprint: str
    keyring: Path  # binary public keyring, as gpgv wants it
    armored: str  # the same public key ASCII-armored, as in a .asc file or a deb822 Signed-By
    faked_time: Optional[str] = None  # gpg --faked-system-time to sign with, for expired keys

    def gpg(self, *args: str) -> bytes:
        """Run gpg on this key's GNUPGHOME, unattended; its stdout."""
        cmd = [GPG, "--homedir", str(self.home), "--batch", "--yes"]
        cmd += ["--pinentry-mode", "loopback", "--passphrase", ""]
        if self.faked_time is not None:
            cmd += ["--faked-system-time", self.faked_time]
        proc = subprocess.run(cmd + list(args), capture_output=True, check=False)
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace")
            raise RuntimeError(f"gpg {' '.join(args)} failed: {detail}")
        return proc.stdout


def generate_key(
    workdir: Path,
    uid: str = "debvenv test archive <archive@example.org>",
    *,
    expire: str = "never",
    faked_time: Optional[str] = None,
) -> SigningKey:
    """A new ed25519 signing key under ``workdir`` (fast: no entropy wait, no passphrase)."""
    home = workdir / "gnupg"
    home.mkdir(mode=0o700, parents=True)
    bare = SigningKey(home=home, fingerprint="", keyring=Path(), armored="", faked_time=faked_time)
    bare.gpg("--quick-gen-key", uid, "ed25519", "sign", expire)
    listing = bare.gpg("--list-keys", "--with-colons").decode()
    fingerprint = next(
        line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
    )
    keyring = workdir / "archive-keyring.gpg"
    keyring.write_bytes(bare.gpg("--export", fingerprint))
    armored = bare.gpg("--export", "--armor", fingerprint).decode()
    (workdir / "archive-keyring.asc").write_text(armored)
    return SigningKey(
        home=home, fingerprint=fingerprint, keyring=keyring, armored=armored, faked_time=faked_time
    )


def stop_agent(key: SigningKey) -> None:
    cmd = ["gpgconf", "--homedir", str(key.home), "--kill", "gpg-agent"]
    subprocess.run(cmd, capture_output=True, check=False)


@dataclass(frozen=True)
class SignedArchive:
    """An archive tree under ``root``: ``root/dists/SUITE/{InRelease,Release,Release.gpg,...}``."""

    root: Path
    suite: str
    key: SigningKey

    @property
    def dists(self) -> Path:
        return self.root / "dists" / self.suite

    @property
    def keyring(self) -> Path:
        return self.key.keyring

    @property
    def inrelease(self) -> Path:
        return self.dists / "InRelease"

    @property
    def release(self) -> Path:
        return self.dists / "Release"

    @property
    def release_gpg(self) -> Path:
        return self.dists / "Release.gpg"

    def path(self, name: str) -> Path:
        """An index file, by its name in the Release (``main/binary-amd64/Packages.xz``)."""
        return self.dists / name


def _compress(name: str, content: bytes) -> bytes:
    if name.endswith(".gz"):
        # mtime=0: the same content always gives the same bytes, hence the same SHA256.
        return gzip.compress(content, mtime=0)
    if name.endswith(".xz"):
        return lzma.compress(content, format=lzma.FORMAT_XZ)
    return content


def _uncompressed_name(name: str) -> str:
    for suffix in (".gz", ".xz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def build_signed_archive(
    root: Path,
    suite: str,
    files: Mapping[str, bytes],
    *,
    key: SigningKey,
    codename: Optional[str] = None,
    origin: str = "Debian",
    label: str = "Debian",
    version: Optional[str] = "12.10",
    date: datetime = DEFAULT_DATE,
    valid_until: Optional[datetime] = None,
    architectures: Sequence[str] = ("all", "amd64"),
    components: Sequence[str] = ("main",),
    acquire_by_hash: bool = False,
    extra_fields: Sequence[str] = (),
) -> SignedArchive:
    """Write, hash and sign ``dists/SUITE`` under ``root``.

    ``files`` maps a name relative to ``dists/SUITE/`` to its *uncompressed*
    content; a ``.gz``/``.xz`` name is written compressed.
    """
    archive = SignedArchive(root=root, suite=suite, key=key)
    archive.dists.mkdir(parents=True, exist_ok=True)
    listed = {}
    for name, content in sorted(files.items()):
        data = _compress(name, content)
        target = archive.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        listed[name] = data
        listed.setdefault(_uncompressed_name(name), content)
        if acquire_by_hash:
            by_hash = target.parent / "by-hash" / "SHA256" / hashlib.sha256(data).hexdigest()
            by_hash.parent.mkdir(parents=True, exist_ok=True)
            by_hash.write_bytes(data)

    lines: List[str] = [f"Origin: {origin}", f"Label: {label}", f"Suite: {suite}"]
    lines.append(f"Codename: {codename or suite.split('-')[0]}")
    if version is not None:
        lines.append(f"Version: {version}")
    lines.append(f"Date: {_rfc1123(date)}")
    if valid_until is not None:
        lines.append(f"Valid-Until: {_rfc1123(valid_until)}")
    if acquire_by_hash:
        lines.append("Acquire-By-Hash: yes")
    lines.append(f"Architectures: {' '.join(architectures)}")
    lines.append(f"Components: {' '.join(components)}")
    lines.append(f"Description: debvenv test archive {suite}")
    lines.extend(extra_fields)
    # MD5Sum is there because real archives still carry it and parsers must ignore it.
    for field_name, algorithm in (("MD5Sum", hashlib.md5), ("SHA256", hashlib.sha256)):
        lines.append(f"{field_name}:")
        width = max(len(str(len(d))) for d in listed.values())
        for name, data in sorted(listed.items()):
            lines.append(f" {algorithm(data).hexdigest()} {len(data):>{width}} {name}")
    release = ("\n".join(lines) + "\n").encode()
    archive.release.write_bytes(release)
    sign_release(archive)
    return archive


def sign_release(archive: SignedArchive) -> None:
    """(Re)write InRelease and Release.gpg from the current Release, e.g. after a test edits it."""
    key = archive.key
    signer = ["--local-user", key.fingerprint, "--digest-algo", "SHA512"]
    key.gpg(*signer, "--clearsign", "--output", str(archive.inrelease), str(archive.release))
    detached = ["--armor", "--detach-sign", "--output", str(archive.release_gpg)]
    key.gpg(*signer, *detached, str(archive.release))


def _rfc1123(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S UTC")


# ---------------------------------------------------------------- loopback HTTP


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
        pass  # keep pytest's output for test results


class _GuardedHandler(_QuietHandler):
    """Records each request's Authorization header; answers 401 without the login, or redirects."""

    login: Optional[Tuple[str, str]] = None
    redirect_to: Optional[str] = None
    seen: List[Tuple[str, Optional[str]]] = []

    def do_GET(self) -> None:  # noqa: N802 - stdlib's name
        header = self.headers.get("Authorization")
        self.seen.append((self.path, header))
        if self.login is not None:
            token = base64.b64encode(":".join(self.login).encode()).decode()
            if header != f"Basic {token}":
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="debvenv test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        if self.redirect_to is not None:
            self.send_response(302)
            self.send_header("Location", self.redirect_to.rstrip("/") + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


@contextlib.contextmanager
def serve_directory(
    root: Path,
    *,
    login: Optional[Tuple[str, str]] = None,
    redirect_to: Optional[str] = None,
    seen: Optional[List[Tuple[str, Optional[str]]]] = None,
) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (a free port) in a thread; yields the base URL ending in /.

    ``login``: (user, password) that HTTP Basic must give, else 401. ``redirect_to``: answer
    every request (once its login passed) with a 302 to that base URL. ``seen`` collects
    (path, Authorization header or None) of every request.
    """
    attributes = {"login": login, "redirect_to": redirect_to, "seen": seen if seen is not None else []}
    handler_class = type("Handler", (_GuardedHandler,), attributes)
    handler = functools.partial(handler_class, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="serve_directory", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ---------------------------------------------------------------- fixtures


def _key_fixture(workdir: Path, **kwargs: str) -> Iterator[SigningKey]:
    key = generate_key(workdir, **kwargs)
    try:
        yield key
    finally:
        stop_agent(key)


@pytest.fixture(scope="session")
def signing_key() -> Iterator[SigningKey]:
    # A short path of its own: gpg-agent's socket path must stay under 108 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="dvkey-"))
    try:
        yield from _key_fixture(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def other_signing_key() -> Iterator[SigningKey]:
    workdir = Path(tempfile.mkdtemp(prefix="dvkey-"))
    try:
        yield from _key_fixture(workdir, uid="someone else <other@example.org>")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def expired_signing_key() -> Iterator[SigningKey]:
    """A key made in 2020 that expired a year later; it signs with the clock set to 2020."""
    workdir = Path(tempfile.mkdtemp(prefix="dvkey-"))
    try:
        yield from _key_fixture(
            workdir, uid="expired <expired@example.org>", expire="1y", faked_time="20200101T000000!"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def serve_http() -> Iterator[Callable[..., str]]:
    """``serve_http(root, **serve_directory's options)`` -> base URL; every server stops when the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda root, **options: stack.enter_context(serve_directory(root, **options))
