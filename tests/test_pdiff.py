"""debvenv.sources.pdiff: apt's diff Index and the ed scripts of ``diff --ed`` (diffutils), applied in Python.

Every script here is made by the real ``diff --ed`` from real index text:
bookworm's Packages stanzas (this machine's apt lists) and the file shapes
that need ed's escapes (a line that is a single ".").
"""

from __future__ import annotations

import hashlib
import random
import subprocess
from pathlib import Path
from typing import List

import pytest

from debvenv.sources.pdiff import DiffIndex, FileHash, PdiffError, apply_ed, parse_diff_index, parse_ed

DATA = Path(__file__).parent / "data"


def ed_script(tmp_path: Path, old: bytes, new: bytes) -> bytes:
    (tmp_path / "old").write_bytes(old)
    (tmp_path / "new").write_bytes(new)
    proc = subprocess.run(["diff", "--ed", str(tmp_path / "old"), str(tmp_path / "new")], capture_output=True)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


def applied(script: bytes, old: bytes, block: int = 7) -> bytes:
    out: List[bytes] = []
    blocks = (old[i : i + block] for i in range(0, len(old), block))
    apply_ed(parse_ed(script, source="patch"), blocks, out.append, source="patch")
    return b"".join(out)


def stanzas(text: bytes) -> List[bytes]:
    return [s + b"\n" for s in text.strip(b"\n").split(b"\n\n")]


def test_real_packages_changes_round_trip(tmp_path):
    old = (DATA / "Packages").read_bytes()
    parts = stanzas(old)
    # A package removed, one updated, one added at the end: what a day in sid brings.
    changed = parts[1:]
    changed[0] = changed[0].replace(b"Version: ", b"Version: 1:", 1)
    new = b"\n".join(changed + [parts[0]])
    script = ed_script(tmp_path, old, new)
    assert script  # a real change
    assert applied(script, old) == new
    assert applied(script, old, block=1 << 20) == new


def test_a_single_dot_line_uses_eds_escape(tmp_path):
    old = b"a\nb\nc\nd\ne\n"
    new = b"a\n.\nx\nc\n.\n.\ne\nf\n"
    script = ed_script(tmp_path, old, new)
    assert b"s/.//\n" in script  # diff's way of writing a line "."
    assert applied(script, old) == new


def test_against_diff_on_many_shapes(tmp_path):
    """Insertions at the start and end, deletions, "." lines, no trailing newline: as diff writes them."""
    rnd = random.Random(9)
    alphabet = [b"a", b"b", b".", b"..", b"", b"Package: python3-yaml"]
    for _ in range(150):
        old_lines = [rnd.choice(alphabet) for _ in range(rnd.randint(0, 20))]
        new_lines = list(old_lines)
        for _ in range(rnd.randint(1, 5)):
            if rnd.random() < 0.4 and new_lines:
                del new_lines[rnd.randrange(len(new_lines))]
            else:
                new_lines.insert(rnd.randint(0, len(new_lines)), rnd.choice(alphabet))
        old = b"".join(line + b"\n" for line in old_lines)
        new = b"".join(line + b"\n" for line in new_lines)
        assert applied(ed_script(tmp_path, old, new), old, block=rnd.randint(1, 9)) == new


@pytest.mark.parametrize(
    "script, message",
    [
        (b"2d\n5d\n", "not from the end up"),  # top-down: applying in order would shift lines
        (b"3,1d\n", "not a range"),
        (b"1a\nx\n", "never ends"),
        (b"1a\nx\n.\ns/.//\n", "not '..'"),
        (b"1w /etc/passwd\n", "not an ed command"),
        (b"1d", "newline"),
        (b"1,2a\nx\n.\n", "one line number"),
    ],
)
def test_bad_scripts_are_refused(script, message):
    with pytest.raises(PdiffError, match=message):
        parse_ed(script, source="p.gz")


def test_a_command_past_the_end_is_refused():
    with pytest.raises(PdiffError, match="past the end"):
        applied(b"9d\n", b"a\nb\n")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def index_text(states: List[bytes], patches: List[bytes], *, merged: bool = False) -> str:
    names = [f"2025-05-1{i}-0812.03" for i in range(len(patches))]
    lines = [f"SHA1-Current: {'0' * 40} {len(states[-1])}", f"SHA256-Current: {sha(states[-1])} {len(states[-1])}"]
    lines.append("SHA256-History:")
    lines += [f" {sha(s)} {len(s)} {n}" for s, n in zip(states, names)]
    lines.append("SHA256-Patches:")
    lines += [f" {sha(p)} {len(p)} {n}" for p, n in zip(patches, names)]
    lines.append("SHA256-Download:")
    lines += [f" {sha(p + b'gz')} {len(p) + 2} {n}.gz" for p, n in zip(patches, names)]
    if merged:
        lines.append("X-Patch-Precedence: merged")
    return "\n".join(lines) + "\n"


def test_chain_from_each_state():
    states = [b"one\n", b"two\n", b"three\n", b"four\n"]
    index = parse_diff_index(index_text(states, [b"p1", b"p2", b"p3"]), source="Index")
    assert index.current == FileHash(sha(b"four\n"), 5)
    chain = index.chain(sha(b"two\n"))
    assert [step.name for step in chain] == ["2025-05-11-0812.03", "2025-05-12-0812.03"]
    # Each step is checked against the state after it: the next History line, then Current.
    assert [step.result.sha256 for step in chain] == [sha(b"three\n"), sha(b"four\n")]
    assert chain[0].download == FileHash(sha(b"p2gz"), 4)
    assert index.chain(sha(b"four\n")) == ()
    with pytest.raises(PdiffError, match="not in its history"):
        index.chain(sha(b"zero\n"))
    with pytest.raises(PdiffError, match="more than 1 patches"):
        index.chain(sha(b"one\n"), limit=1)


def test_merged_patches_lead_straight_to_current():
    states = [b"one\n", b"two\n", b"three\n"]
    index = parse_diff_index(index_text(states + [b"four\n"], [b"p1", b"p2", b"p3"], merged=True), source="Index")
    assert index.merged
    chain = index.chain(sha(b"two\n"))
    assert len(chain) == 1 and chain[0].result == index.current


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace("SHA256-Current", "X-Current"), "no SHA256-Current"),
        (lambda t: t.replace(" 2025-05-10-0812.03.gz", " ../../Packages.gz"), "not a patch name"),
        (lambda t: t.replace(".gz", ""), "does not end in .gz"),
        (lambda t: t.replace("SHA256-Current: ", "SHA256-Current: zz"), "expected 'SHA256 SIZE'"),
    ],
)
def test_bad_index_is_refused(edit, message):
    text = index_text([b"a\n", b"b\n"], [b"p1"])
    with pytest.raises(PdiffError, match=message):
        parse_diff_index(edit(text), source="main/binary-amd64/Packages.diff/Index")


def test_a_patch_in_history_but_not_listed_is_refused():
    text = index_text([b"a\n", b"b\n", b"c\n"], [b"p1", b"p2"])
    index = parse_diff_index(text, source="Index")
    broken = DiffIndex(
        current=index.current, history=index.history, patches={}, downloads=index.downloads, merged=False
    )
    with pytest.raises(PdiffError, match="not in SHA256-Patches"):
        broken.chain(sha(b"a\n"))
