"""apt's pdiffs: the diff Index beside an index file, and the ed-style patches it lists.

``DIR/FILE.diff/Index`` (one deb822 paragraph; the SHA1 and ``X-Unmerged-``
fields are not read)::

    SHA256-Current: HEX SIZE           the file as it is now
    SHA256-History:                    one line per older state of the file:
     HEX SIZE NAME                       the file before patch NAME is applied
    SHA256-Patches:
     HEX SIZE NAME                     patch NAME, uncompressed
    SHA256-Download:
     HEX SIZE NAME.gz                  patch NAME as served: DIR/FILE.diff/NAME.gz
    X-Patch-Precedence: merged         each patch leads straight to Current

Without ``merged``, patch NAME leads to the state of the next History line
(the last one to Current), so a chain of them is applied in order; with it
(dak's merged pdiffs), the one patch of the state one has is applied. That
is apt's walk too: find the History line of what one has, apply its patch,
repeat until Current.

A patch is ``diff --ed`` output: commands on lines of the file as it was,
written from its end to its start so that applying them in order never
shifts a line a later command names::

    N a            append the text lines that follow after line N (0: before the first)
    N[,M] c        replace lines N..M by the text lines that follow
    N[,M] d        delete lines N..M
    .              ends the text of a or c
    s/.//          the last text line, written "..", is a line "." (ed cannot say it otherwise)
    a              (no address) more text after that line

``parse_ed`` refuses a script whose commands are not in that order, so it
can be applied in one pass from the file's start (``apply_ed``), the file
streamed in blocks and never held whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

# How many patches one update may take. dak keeps about two weeks of four a day.
MAX_PATCHES = 100
# A patch is held in memory to be applied; Debian's merged patches for sid's Packages
# are about 7 MB. One larger than this is refused, and the whole file is the way.
MAX_PATCH_BYTES = 128 << 20
# Debian's diff Index files are about 30 KB.
MAX_INDEX_BYTES = 4 << 20

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PATCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,199}")
_COMMAND = re.compile(rb"(\d{1,12})(?:,(\d{1,12}))?([acd])")
_FIELDS = ("SHA256-Current", "SHA256-History", "SHA256-Patches", "SHA256-Download")


class PdiffError(Exception):
    """A diff Index or patch that cannot be used: malformed, or no way from the copy at hand."""


@dataclass(frozen=True)
class FileHash:
    """A SHA256 and a size, as a diff Index lists them."""

    sha256: str
    size: int


@dataclass(frozen=True)
class Patch:
    """One patch to apply: its name, its hashes, and the state it must lead to."""

    name: str  # "2025-05-11-0812.03"; served as NAME.gz
    patch: FileHash  # uncompressed
    download: FileHash  # NAME.gz
    result: FileHash  # the file once this patch is applied


@dataclass(frozen=True)
class DiffIndex:
    current: FileHash
    history: Tuple[Tuple[str, FileHash], ...]  # (patch name, the file before it), oldest first
    patches: Dict[str, FileHash]
    downloads: Dict[str, FileHash]  # by patch name, without ".gz"
    merged: bool

    def history_sizes(self) -> Tuple[int, ...]:
        return tuple(state.size for _, state in self.history)

    def chain(self, start: str, *, limit: int = MAX_PATCHES) -> Tuple[Patch, ...]:
        """The patches from the state whose SHA256 is ``start`` to Current, in order.

        Empty when ``start`` is Current; PdiffError when ``start`` is in no
        History line, a patch it needs is not listed, or more than ``limit``
        are needed.
        """
        steps: List[Patch] = []
        state = start
        while state != self.current.sha256:
            positions = [i for i, (_, known) in enumerate(self.history) if known.sha256 == state]
            if not positions:
                if not steps:
                    raise PdiffError("the cached copy is not in its history (older than the patches kept)")
                raise PdiffError(f"patch {steps[-1].name} leads to a state its history does not list")
            # The last line of that state: a file that came back to an old state
            # (a package removed, then restored) takes the shortest way on.
            position = positions[-1]
            name = self.history[position][0]
            if name not in self.patches or name not in self.downloads:
                raise PdiffError(f"patch {name} is in its history but not in SHA256-Patches and SHA256-Download")
            if self.merged or position + 1 == len(self.history):
                result = self.current
            else:
                result = self.history[position + 1][1]
            steps.append(Patch(name=name, patch=self.patches[name], download=self.downloads[name], result=result))
            if len(steps) > limit:
                raise PdiffError(f"more than {limit} patches would be needed")
            state = result.sha256
        return tuple(steps)


def parse_diff_index(text: str, *, source: str) -> DiffIndex:
    """The SHA256 fields of a diff Index (module docstring); PdiffError naming the line."""
    fields: Dict[str, List[Tuple[int, str]]] = {}
    name: Optional[str] = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if fields:
                break  # one paragraph
            continue
        if line[0] in " \t":
            if name is None:
                raise PdiffError(f"{source}:{number}: a continuation line before any field")
            fields[name].append((number, line.strip()))
            continue
        key, colon, value = line.partition(":")
        if not colon or not key or any(c.isspace() for c in key):
            raise PdiffError(f"{source}:{number}: expected 'Field: value', got {line[:60]!r}")
        name = key.lower()
        if name in fields:
            raise PdiffError(f"{source}:{number}: {key} appears twice")
        fields[name] = [(number, value.strip())] if value.strip() else []
    for field in _FIELDS:
        if field.lower() not in fields:
            raise PdiffError(f"{source}: no {field} field")

    current_lines = fields["sha256-current"]
    if len(current_lines) != 1:
        raise PdiffError(f"{source}: SHA256-Current must be one 'HEX SIZE' line")
    number, value = current_lines[0]
    current = _file_hash(value.split(), source, number)

    def rows(field: str, suffix: str = "") -> List[Tuple[str, FileHash]]:
        found = []
        for number, value in fields[field.lower()]:
            parts = value.split()
            if len(parts) != 3:
                raise PdiffError(f"{source}:{number}: {field} lines are 'HEX SIZE NAME'")
            patch_name = parts[2]
            if suffix:
                if not patch_name.endswith(suffix):
                    raise PdiffError(f"{source}:{number}: {patch_name!r} does not end in {suffix}")
                patch_name = patch_name[: -len(suffix)]
            # The name becomes part of a URL: no "/", no "..", nothing to escape.
            if not _PATCH_NAME.fullmatch(patch_name) or ".." in patch_name:
                raise PdiffError(f"{source}:{number}: {parts[2]!r} is not a patch name")
            found.append((patch_name, _file_hash(parts[:2], source, number)))
        return found

    history = rows("SHA256-History")
    patches = dict(rows("SHA256-Patches"))
    downloads = dict(rows("SHA256-Download", ".gz"))
    precedence = fields.get("x-patch-precedence", [])
    merged = bool(precedence) and precedence[0][1].lower() == "merged"
    return DiffIndex(current=current, history=tuple(history), patches=patches, downloads=downloads, merged=merged)


def _file_hash(parts: List[str], source: str, number: int) -> FileHash:
    if len(parts) != 2 or not _HEX64.fullmatch(parts[0].lower()) or not parts[1].isdigit() or len(parts[1]) > 15:
        raise PdiffError(f"{source}:{number}: expected 'SHA256 SIZE', got {' '.join(parts)[:80]!r}")
    return FileHash(sha256=parts[0].lower(), size=int(parts[1]))


# ---------------------------------------------------------------- ed scripts


@dataclass(frozen=True)
class Hunk:
    """Lines ``start``..``end`` of the old file (1-based; end = start - 1: none) become ``text``."""

    start: int
    end: int
    text: Tuple[bytes, ...]  # each line with its "\n"


def parse_ed(data: bytes, *, source: str) -> Tuple[Hunk, ...]:
    """The hunks of a ``diff --ed`` script, first line first; PdiffError naming the script's line."""
    if data and not data.endswith(b"\n"):
        raise PdiffError(f"{source}: does not end with a newline (cut short?)")
    lines = data.split(b"\n")[:-1] if data else []
    written: List[Tuple[int, int, List[bytes]]] = []  # in the script's order: from the end up
    position = 0

    def text_block(into: List[bytes]) -> None:
        nonlocal position
        while True:
            if position >= len(lines):
                raise PdiffError(f"{source}: text that never ends (no '.' line)")
            line = lines[position]
            position += 1
            if line == b".":
                return
            into.append(line + b"\n")

    while position < len(lines):
        number = position + 1
        line = lines[position]
        position += 1
        command = _COMMAND.fullmatch(line)
        if command is not None:
            first = int(command.group(1))
            last = int(command.group(2)) if command.group(2) else first
            operation = command.group(3)
            if operation == b"a":
                if command.group(2):
                    raise PdiffError(f"{source}:{number}: 'a' takes one line number")
                start, end = first + 1, first
            else:
                if first < 1 or last < first:
                    raise PdiffError(f"{source}:{number}: {line.decode('ascii')}: not a range of lines")
                start, end = first, last
            # Each command must lie wholly above the one before it (see the module docstring).
            if written and not end < written[-1][0]:
                raise PdiffError(f"{source}:{number}: {line.decode('ascii')}: commands are not from the end up")
            text: List[bytes] = []
            if operation != b"d":
                text_block(text)
            written.append((start, end, text))
        elif line == b"s/.//":
            if not written or not written[-1][2] or written[-1][2][-1] != b"..\n":
                raise PdiffError(f"{source}:{number}: s/.// where the last text line is not '..'")
            written[-1][2][-1] = b".\n"
        elif line == b"a":
            if not written or not written[-1][2]:
                raise PdiffError(f"{source}:{number}: 'a' with no line number after no text")
            text_block(written[-1][2])
        else:
            shown = line[:60].decode("utf-8", "replace")
            raise PdiffError(f"{source}:{number}: not an ed command debvenv applies: {shown!r}")
    return tuple(Hunk(start=s, end=e, text=tuple(t)) for s, e, t in reversed(written))


class _Lines:
    """Whole lines taken from a stream of blocks, without splitting what is only copied."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._buffer = b""
        self._partial = False  # what was taken ends inside a line

    def take(self, count: int, write: Optional[Callable[[bytes], None]]) -> int:
        """Pass the next ``count`` lines to ``write`` (None: drop them); how many there were."""
        moved = 0
        while moved < count:
            if not self._buffer:
                self._buffer = next(self._blocks, b"")
                if not self._buffer:
                    if self._partial:  # a last line without its newline
                        self._partial = False
                        moved += 1
                        continue
                    break
            buffer = self._buffer
            need = count - moved
            newlines = buffer.count(b"\n")
            if newlines < need:
                if write is not None:
                    write(buffer)
                moved += newlines
                self._buffer = b""
                self._partial = not buffer.endswith(b"\n")
                continue
            end = -1
            for _ in range(need):
                end = buffer.index(b"\n", end + 1)
            if write is not None:
                write(buffer[: end + 1])
            self._buffer = buffer[end + 1 :]
            self._partial = False
            moved += need
        return moved

    def rest(self, write: Callable[[bytes], None]) -> None:
        if self._buffer:
            write(self._buffer)
        for block in self._blocks:
            write(block)
        self._buffer = b""


def apply_ed(hunks: Tuple[Hunk, ...], blocks: Iterator[bytes], write: Callable[[bytes], None], *, source: str) -> None:
    """Write the old file of ``blocks`` with ``hunks`` applied; PdiffError if a hunk is past its end."""
    lines = _Lines(blocks)
    done = 0  # lines of the old file consumed
    for hunk in hunks:
        keep = hunk.start - 1 - done
        drop = hunk.end - hunk.start + 1
        if lines.take(keep, write) != keep or lines.take(drop, None) != drop:
            raise PdiffError(f"{source}: changes line {max(hunk.start, hunk.end)}, past the end of the file")
        done = hunk.end
        for line in hunk.text:
            write(line)
    lines.rest(write)
