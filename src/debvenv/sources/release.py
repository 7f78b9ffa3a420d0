"""A suite's ``InRelease`` / ``Release`` file: its signature, its fields, its index hashes.

Verification runs the machine's ``gpgv`` and reads its ``--status-fd``
lines, judging them as apt does: the file is good when at least one
signature is a GOODSIG with a VALIDSIG made with a trusted digest (not MD5,
SHA1 or RIPEMD160) by an allowed key, and no signature is a BADSIG. Other
signatures by keys not in the keyring (NO_PUBKEY) are tolerated next to a
good one: Debian signs with several keys. Expired or revoked keys (EXPKEYSIG,
REVKEYSIG), expired signatures (EXPSIG) and unusable ones (ERRSIG) never
count as good. An ``InRelease`` must be exactly one clearsigned message with
nothing but whitespace around it, so that no unsigned text can ride along.

The Release grammar (one deb822 paragraph, as ``parse_release`` accepts it)::

    release       := field+ blank*
    field         := Name ":" [ws value] NL (continuation NL)*
    continuation  := (" " | "\\t") text
    SHA256 line   := ws sha256-hex ws size ws path          ; one per continuation

Required: ``Date`` (RFC 1123, e.g. ``Sat, 10 May 2025 09:03:15 UTC``),
``SHA256`` and one of ``Suite`` / ``Codename``. ``MD5Sum`` and ``SHA1`` are
ignored (apt no longer trusts them); unknown fields are ignored.
Anything else is a ``ReleaseFormatError``, never a silent skip.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from debvenv.errors import EnvironmentFailure

GPGV = "gpgv"
GPG = "gpg"

_BEGIN_SIGNED = "-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_SIGNATURE = "-----BEGIN PGP SIGNATURE-----"
_END_SIGNATURE = "-----END PGP SIGNATURE-----"
_ARMOR_START = b"-----BEGIN PGP"

# OpenPGP hash algorithm ids (RFC 4880 9.4) apt refuses: MD5, SHA1, RIPEMD160.
_UNTRUSTED_DIGESTS = {"1": "MD5", "2": "SHA1", "3": "RIPEMD160"}


class ReleaseError(EnvironmentFailure):
    """Base of everything that can be wrong with a suite's Release or its indexes."""


class ReleaseVerificationError(ReleaseError):
    """The InRelease / Release.gpg signature is missing, bad, or not by a trusted key."""


class ReleaseFormatError(ReleaseError):
    """The Release text does not follow the grammar in this module's docstring."""


class ReleaseExpiredError(ReleaseError):
    """The Release's Valid-Until lies in the past."""


class ReleaseNotYetValidError(ReleaseError):
    """The Release's Date lies in the future, beyond the clock-skew margin."""


class IndexHashError(ReleaseError):
    """An index file's size or SHA256 differs from what the Release lists."""

    # Set by whoever tried every URL of the file: one line naming the file, for warnings.
    summary: Optional[str] = None
    # What went wrong, without the URL: "out of sync with InRelease (...)".
    reason: Optional[str] = None


class IndexOutOfSyncError(IndexHashError):
    """The mirror served a whole file, but not the one the Release lists (a mirror mid-sync)."""


@dataclass(frozen=True)
class IndexFileEntry:
    """One index file listed in the Release's SHA256 field, relative to dists/SUITE/."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Release:
    """The fields of a suite's Release that debvenv uses, built by ``parse_release``."""

    source: str  # where the text came from, for messages
    origin: Optional[str]
    label: Optional[str]
    suite: Optional[str]
    codename: Optional[str]
    version: Optional[str]
    date: datetime  # UTC
    valid_until: Optional[datetime]  # UTC
    architectures: Tuple[str, ...]
    components: Tuple[str, ...]
    acquire_by_hash: bool
    files: Mapping[str, IndexFileEntry] = field(hash=False)

    def entry(self, path: str) -> IndexFileEntry:
        """The listed entry for ``path`` (``main/binary-amd64/Packages.xz``)."""
        try:
            return self.files[path]
        except KeyError:
            raise ReleaseFormatError(f"{self.source}: {path} is not listed in SHA256") from None


# ---------------------------------------------------------------- signatures


def verify_inrelease(
    data: bytes,
    keyrings: Sequence[Path],
    *,
    inline_keys: Sequence[str] = (),
    fingerprints: Sequence[str] = (),
    source: str = "InRelease",
) -> bytes:
    """The signed payload of a clearsigned ``InRelease``, once ``gpgv`` vouches for it.

    ``keyrings`` may be binary (``.gpg``) or ASCII-armored (``.asc``);
    ``inline_keys`` are armored key blocks (a deb822 Signed-By);
    ``fingerprints``, if any, restrict the keys allowed to sign.
    Raises ReleaseVerificationError with gpgv's reason.
    """
    _check_clearsigned(data, source)
    with tempfile.TemporaryDirectory(prefix="debvenv-gpgv-") as tmp:
        work = Path(tmp)
        signed = work / "InRelease"
        signed.write_bytes(data)
        output = work / "payload"
        _run_gpgv(work, keyrings, inline_keys, fingerprints, [str(signed)], output, source)
        return output.read_bytes()


def verify_detached(
    release: bytes,
    signature: bytes,
    keyrings: Sequence[Path],
    *,
    inline_keys: Sequence[str] = (),
    fingerprints: Sequence[str] = (),
    source: str = "Release",
) -> bytes:
    """``release`` itself, once ``gpgv`` vouches for its detached ``Release.gpg``."""
    with tempfile.TemporaryDirectory(prefix="debvenv-gpgv-") as tmp:
        work = Path(tmp)
        (work / "Release").write_bytes(release)
        (work / "Release.gpg").write_bytes(signature)
        args = [str(work / "Release.gpg"), str(work / "Release")]
        _run_gpgv(work, keyrings, inline_keys, fingerprints, args, None, source)
    return release


def _check_clearsigned(data: bytes, source: str) -> None:
    """Exactly one clearsigned message and nothing but whitespace around it, as apt insists."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReleaseVerificationError(f"{source}: not a clearsigned file (not UTF-8)") from None
    lines = text.splitlines()
    begins = [i for i, line in enumerate(lines) if line.rstrip() == _BEGIN_SIGNED]
    ends = [i for i, line in enumerate(lines) if line.rstrip() == _END_SIGNATURE]
    if not begins or not ends:
        raise ReleaseVerificationError(
            f"{source}: not a clearsigned file (does the network require authentication?)"
        )
    if len(begins) > 1 or len(ends) > 1:
        raise ReleaseVerificationError(f"{source}: more than one signed message")
    signatures = [i for i, line in enumerate(lines) if line.rstrip() == _BEGIN_SIGNATURE]
    if len(signatures) != 1 or not begins[0] < signatures[0] < ends[0]:
        raise ReleaseVerificationError(f"{source}: malformed clearsigned message")
    if any(line.strip() for line in lines[: begins[0]] + lines[ends[0] + 1 :]):
        raise ReleaseVerificationError(f"{source}: unsigned text outside the signed message")


def _run_gpgv(
    work: Path,
    keyrings: Sequence[Path],
    inline_keys: Sequence[str],
    fingerprints: Sequence[str],
    files: List[str],
    output: Optional[Path],
    source: str,
) -> None:
    if not keyrings and not inline_keys:
        raise ReleaseVerificationError(
            f"{source}: no keyring known to verify it with; give --keyring FILE"
        )
    binary = _binary_keyrings(work, keyrings, inline_keys, source)
    home = work / "home"
    home.mkdir(mode=0o700)
    cmd = [GPGV, "--homedir", str(home), "--status-fd", "1"]
    for keyring in binary:
        cmd += ["--keyring", str(keyring)]
    if output is not None:
        cmd += ["--output", str(output)]
    cmd += files
    try:
        proc = subprocess.run(cmd, capture_output=True, env=_c_locale(), check=False)
    except OSError as exc:
        raise ReleaseVerificationError(f"{source}: cannot run {GPGV}: {exc}") from None
    status = proc.stdout.decode("utf-8", "replace")
    reason = judge_gpgv_status(status, fingerprints)
    if reason is not None:
        if "[GNUPG:]" not in status:
            # gpgv stopped before judging any signature (unreadable keyring, ...): say why.
            reason = _first_lines(proc.stderr) or f"gpgv exited with status {proc.returncode}"
        raise ReleaseVerificationError(f"{source}: signature verification failed: {reason}")


def _binary_keyrings(
    work: Path, keyrings: Sequence[Path], inline_keys: Sequence[str], source: str
) -> List[Path]:
    """Keyrings gpgv can read: it takes binary ones only and silently ignores armored ones."""
    if not keyrings and not inline_keys:
        raise ReleaseVerificationError(f"{source}: no keyring to verify the signature with")
    result: List[Path] = []
    armored: List[Tuple[str, bytes]] = []
    for keyring in keyrings:
        try:
            data = Path(keyring).read_bytes()
        except OSError as exc:
            message = f"{source}: cannot read keyring {keyring}: {exc}"
            raise ReleaseVerificationError(message) from None
        if data.lstrip().startswith(_ARMOR_START):
            armored.append((str(keyring), data))
        else:
            result.append(Path(keyring).absolute())
    armored.extend(("inline Signed-By key", key.encode("utf-8")) for key in inline_keys)
    for number, (name, data) in enumerate(armored):
        result.append(_dearmor(work, name, data, number, source))
    return result


def _dearmor(work: Path, name: str, data: bytes, number: int, source: str) -> Path:
    home = work / f"dearmor-home-{number}"
    home.mkdir(mode=0o700)
    target = work / f"keyring-{number}.gpg"
    cmd = [GPG, "--batch", "--no-options", "--homedir", str(home)]
    cmd += ["--dearmor", "--output", str(target)]
    try:
        proc = subprocess.run(cmd, input=data, capture_output=True, env=_c_locale(), check=False)
    except OSError as exc:
        raise ReleaseVerificationError(f"{source}: cannot run {GPG} --dearmor: {exc}") from None
    if proc.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        detail = _first_lines(proc.stderr) or f"gpg exited with status {proc.returncode}"
        raise ReleaseVerificationError(f"{source}: cannot dearmor keyring {name}: {detail}")
    return target


_UNUSABLE = {"EXPKEYSIG": "expired key", "REVKEYSIG": "revoked key", "EXPSIG": "expired signature"}


def judge_gpgv_status(status: str, fingerprints: Sequence[str] = ()) -> Optional[str]:
    """None when gpgv's status lines show a trusted good signature, else why not (one line).

    The same rules as apt's gpgv method; ``fingerprints`` (of primary keys,
    or of a signing subkey when ending in ``!``) restrict the allowed signers.
    """
    good: List[str] = []  # long key ids from GOODSIG
    valid: List[Tuple[str, str, str]] = []  # (signing fpr, primary fpr, digest algo)
    failures: List[str] = []
    saw_any = False
    for line in status.splitlines():
        if not line.startswith("[GNUPG:] "):
            continue
        words = line.split()[1:]
        if not words:
            continue
        saw_any = True
        keyword, args = words[0], words[1:]
        rest = " ".join(args[1:])
        if keyword == "GOODSIG" and args:
            good.append(args[0].upper())
        elif keyword == "VALIDSIG" and len(args) >= 8:
            primary = args[9] if len(args) >= 10 else args[0]
            valid.append((args[0].upper(), primary.upper(), args[7]))
        elif keyword == "BADSIG":
            failures.append(f"BADSIG {args[0] if args else '?'} {rest}".rstrip())
        elif keyword in ("EXPKEYSIG", "REVKEYSIG", "EXPSIG"):
            key = args[0] if args else "?"
            failures.append(f"{keyword} {key} {rest} ({_UNUSABLE[keyword]})".replace("  ", " "))
        elif keyword == "NO_PUBKEY":
            failures.append(f"NO_PUBKEY {args[0] if args else '?'} (public key not in the keyring)")
        elif keyword == "ERRSIG" and args and len(args) >= 6 and args[5] != "9":
            # rc 9 is "no public key", reported again by NO_PUBKEY just after.
            failures.append(f"ERRSIG {args[0]} (cannot check signature, code {args[5]})")
        elif keyword == "NODATA":
            failures.append("NODATA (no signature found; does the network require authentication?)")

    trusted: List[str] = []
    for signing, primary, digest in valid:
        if not any(_same_key(signing, g) for g in good):
            continue  # gpg says VALIDSIG for expired keys too; only GOODSIG+VALIDSIG is good
        if digest in _UNTRUSTED_DIGESTS:
            failures.append(f"{signing} (untrusted digest algorithm {_UNTRUSTED_DIGESTS[digest]})")
            continue
        if fingerprints and not _allowed(signing, primary, fingerprints):
            failures.append(f"{signing} (not among the Signed-By fingerprints)")
            continue
        trusted.append(signing)

    if any(f.startswith("BADSIG") for f in failures):
        return "; ".join(f for f in failures if f.startswith("BADSIG"))
    if trusted:
        return None
    if failures:
        return "; ".join(dict.fromkeys(failures))
    return "no good signature" if saw_any else "gpgv reported no signature"


def _same_key(fingerprint: str, key_id: str) -> bool:
    # GOODSIG gives a long key id (16 hex) or a fingerprint (40 hex).
    return fingerprint == key_id or fingerprint.endswith(key_id)


def _allowed(signing: str, primary: str, fingerprints: Sequence[str]) -> bool:
    for wanted in fingerprints:
        wanted = wanted.replace(" ", "").upper()
        if wanted.endswith("!"):
            if wanted[:-1] == signing:
                return True
        elif wanted in (signing, primary):
            return True
    return False


def _first_lines(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[:3])


def _c_locale() -> Dict[str, str]:
    # gpg's messages are quoted in our errors: keep them in one language.
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    return env


# ---------------------------------------------------------------- the Release fields


_FIELD = re.compile(r"^([^\s:#][^\s:]*):(.*)$")
_SHA256_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+([0-9]+)\s+(\S+)$")


def parse_release(text: str, *, source: str) -> Release:
    """The Release fields of ``text`` (a Release file, or a verified InRelease's payload)."""
    fields, lines = _paragraph(text, source)

    def where(name: str) -> str:
        return f"{source}:{lines[name]}" if name in lines else source

    for required in ("date", "sha256"):
        if required not in fields:
            raise ReleaseFormatError(f"{source}: no {_NAMES[required]} field")
    if "suite" not in fields and "codename" not in fields:
        raise ReleaseFormatError(f"{source}: neither Suite nor Codename is given")

    date = _parse_date(fields["date"], where("date"), "Date")
    valid_until = None
    if "valid-until" in fields:
        valid_until = _parse_date(fields["valid-until"], where("valid-until"), "Valid-Until")
    by_hash = fields.get("acquire-by-hash", "no").strip().lower()
    if by_hash not in ("yes", "no"):
        raise ReleaseFormatError(
            f"{where('acquire-by-hash')}: Acquire-By-Hash {by_hash!r} is not yes/no"
        )

    return Release(
        source=source,
        origin=_single(fields, "origin"),
        label=_single(fields, "label"),
        suite=_single(fields, "suite"),
        codename=_single(fields, "codename"),
        version=_single(fields, "version"),
        date=date,
        valid_until=valid_until,
        architectures=tuple(fields.get("architectures", "").split()),
        components=tuple(fields.get("components", "").split()),
        acquire_by_hash=by_hash == "yes",
        files=_sha256_files(fields["sha256"], lines["sha256"], source),
    )


_NAMES = {"date": "Date", "sha256": "SHA256"}


def _paragraph(text: str, source: str) -> Tuple[Dict[str, str], Dict[str, int]]:
    if text.lstrip().startswith(_BEGIN_SIGNED):
        raise ReleaseFormatError(f"{source}: still clearsigned; verify it before parsing")
    fields: Dict[str, str] = {}
    lines: Dict[str, int] = {}
    current: Optional[str] = None
    ended_at: Optional[int] = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            if fields:
                ended_at = ended_at or number
            current = None
            continue
        if ended_at is not None:
            raise ReleaseFormatError(
                f"{source}:{number}: text after the end of the paragraph (line {ended_at})"
            )
        if raw[0] in " \t":
            if current is None:
                raise ReleaseFormatError(f"{source}:{number}: continuation line outside a field")
            fields[current] += "\n" + raw.strip()
            continue
        match = _FIELD.match(raw)
        if match is None:
            raise ReleaseFormatError(
                f"{source}:{number}: expected 'Field: value', got {raw[:60]!r}"
            )
        name = match.group(1).lower()
        if name in fields:
            raise ReleaseFormatError(f"{source}:{number}: field {match.group(1)!r} given twice")
        fields[name] = match.group(2).strip()
        lines[name] = number
        current = name
    if not fields:
        raise ReleaseFormatError(f"{source}: empty Release")
    return fields, lines


def _single(fields: Dict[str, str], name: str) -> Optional[str]:
    value = fields.get(name)
    return value if value else None


def _parse_date(value: str, where: str, name: str) -> datetime:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        parsed = None  # Python 3.9 raises TypeError on garbage, 3.10+ ValueError
    if parsed is None:
        raise ReleaseFormatError(f"{where}: {name} {value!r} is not an RFC 1123 date")
    if parsed.tzinfo is None:
        # "-0000" means UTC with no offset information, which is what archives mean.
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _sha256_files(value: str, first_line: int, source: str) -> Dict[str, IndexFileEntry]:
    files: Dict[str, IndexFileEntry] = {}
    body = value.split("\n")
    if body[0].strip():
        raise ReleaseFormatError(f"{source}:{first_line}: SHA256 must start on the next line")
    for offset, line in enumerate(body[1:], start=1):
        where = f"{source}:{first_line + offset}"
        match = _SHA256_LINE.match(line.strip())
        if match is None:
            raise ReleaseFormatError(
                f"{where}: expected ' SHA256 SIZE PATH', got {line.strip()[:80]!r}"
            )
        sha256, size, path = match.group(1).lower(), int(match.group(2)), match.group(3)
        if path in files:
            raise ReleaseFormatError(f"{where}: {path} listed twice in SHA256")
        files[path] = IndexFileEntry(path=path, size=size, sha256=sha256)
    if not files:
        raise ReleaseFormatError(f"{source}:{first_line}: SHA256 lists no files")
    return files


# ---------------------------------------------------------------- checks


def check_valid_until(release: Release, now: datetime) -> None:
    """Raise ReleaseExpiredError when ``now`` is past the Release's Valid-Until (if any)."""
    if now.tzinfo is None:
        raise ValueError("check_valid_until needs an aware datetime")
    if release.valid_until is not None and now > release.valid_until:
        raise ReleaseExpiredError(
            f"{release.source}: expired: Valid-Until {release.valid_until:%Y-%m-%d %H:%M:%S} UTC "
            f"is {_ago(now - release.valid_until)} ago"
        )


# apt's Acquire::Max-FutureTime defaults to 10 s; a little more forgives a clock synced late.
FUTURE_MARGIN = timedelta(minutes=5)


def check_not_in_future(release: Release, now: datetime, margin: timedelta = FUTURE_MARGIN) -> None:
    """Raise ReleaseNotYetValidError when the Release's Date is more than ``margin`` after ``now``.

    apt refuses such a Release ("not valid yet"): either the clock is wrong or
    the file is, and neither makes its Valid-Until trustworthy.
    """
    if now.tzinfo is None:
        raise ValueError("check_not_in_future needs an aware datetime")
    if release.date > now + margin:
        raise ReleaseNotYetValidError(
            f"{release.source}: not valid yet: its Date {release.date:%Y-%m-%d %H:%M:%S} UTC "
            f"is {_ago(release.date - now)} ahead of this machine's clock"
        )


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes = seconds // 60
    return f"{days}d {hours}h {minutes}min"


def check_index_file(
    entry: IndexFileEntry, data_or_path: Union[bytes, Path], *, source: Optional[str] = None
) -> None:
    """Raise IndexHashError unless the bytes (or the file's) size and SHA256 are those listed."""
    where = source or (str(data_or_path) if isinstance(data_or_path, Path) else entry.path)
    if isinstance(data_or_path, Path):
        size, digest = _hash_file(data_or_path, where)
    else:
        size, digest = len(data_or_path), hashlib.sha256(data_or_path).hexdigest()
    if size < entry.size:
        raise IndexHashError(
            f"{where}: truncated: {size} of {entry.size} bytes listed for {entry.path}"
        )
    if size != entry.size:
        raise IndexHashError(f"{where}: {size} bytes, but {entry.size} listed for {entry.path}")
    if digest != entry.sha256:
        raise IndexHashError(
            f"{where}: SHA256 {digest} differs from {entry.sha256} listed for {entry.path}"
        )


def _hash_file(path: Path, where: str) -> Tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise IndexHashError(f"{where}: cannot read: {exc}") from None
    return size, digest.hexdigest()
