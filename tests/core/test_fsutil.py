"""fsutil.write_atomic: what its returned stat promises about later writes by others."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from gallery_desktop.core import fsutil
from gallery_desktop.core.favorites_disk import Signature


def test_returned_stat_describes_the_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    for n in range(20):
        written = fsutil.write_atomic(path, b"x" * (n + 1))
        now = os.stat(path)
        assert (written.st_ino, written.st_size, written.st_mtime_ns) == (
            now.st_ino, now.st_size, now.st_mtime_ns)
        if fsutil.settled(written):
            # The rename's ctime: a later check compares it.
            assert written.st_ctime_ns == now.st_ctime_ns


def test_an_in_place_rewrite_right_after_a_settled_write_gets_another_mtime(
        tmp_path: Path) -> None:
    # As the web server writes: same inode, same size, within microseconds of our rename.
    path = tmp_path / "f.json"
    settled = 0
    for n in range(50):
        written = fsutil.write_atomic(path, b"%04d" % n)
        with open(path, "r+b") as f:
            f.write(b"zzzz")
        now = os.stat(path)
        assert (now.st_ino, now.st_size) == (written.st_ino, written.st_size)
        if fsutil.settled(written):
            settled += 1
            assert now.st_mtime_ns != written.st_mtime_ns
            assert not Signature.written(written).vouches_for(Signature.of(now, 0))
    if sys.platform.startswith("linux"):
        # A fine-grained clock (Linux 6.13+ multigrain timestamps), or an fsync longer
        # than a clock tick, settles writes here; none settling means a lost fast path.
        assert settled > 0


def test_new_and_replaced_files_keep_their_modes(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    fsutil.write_atomic(path, b"a")
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~fsutil._umask()
    os.chmod(path, 0o640)
    written = fsutil.write_atomic(path, b"b")
    assert os.stat(path).st_mode & 0o777 == 0o640 == written.st_mode & 0o777


def test_failed_rename_leaves_target_and_no_temp_file(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.json"
    fsutil.write_atomic(path, b"old")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        fsutil.write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_a_write_overtaken_before_its_rename_replaces_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    fsutil.write_atomic(path, b"old")
    asked: list[bytes] = []

    def another_writer_was_faster() -> bool:
        asked.append(path.read_bytes())  # the new content is written by now, not in place
        path.write_bytes(b"theirs")
        return False

    with pytest.raises(fsutil.Superseded):
        fsutil.write_atomic(path, b"new", another_writer_was_faster)
    assert asked == [b"old"] and path.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temp file left
    fsutil.write_atomic(path, b"new", lambda: True)
    assert path.read_bytes() == b"new"


def test_signature_vouches_only_for_the_same_version(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    written = fsutil.write_atomic(path, b"abc")
    mine = Signature.written(written)
    assert mine.settled == fsutil.settled(written)
    if mine.settled:
        assert mine.vouches_for(Signature.of(os.stat(path), 0))
        # An explicit mtime (touch -d, cp -p) restores mtime and size, not the ctime.
        with open(path, "r+b") as f:
            f.write(b"xyz")
        os.utime(path, ns=(written.st_atime_ns, written.st_mtime_ns))
        forged = Signature.of(os.stat(path), 0)
        assert mine.same_file(forged) and not mine.vouches_for(forged)
    else:
        assert not mine.vouches_for(Signature.of(os.stat(path), 0))


def test_a_symlinked_file_stays_a_link_and_its_target_is_replaced(tmp_path: Path) -> None:
    elsewhere = tmp_path / "synced"
    elsewhere.mkdir()
    target = elsewhere / "gallery-favorites.json"
    target.write_bytes(b"old")
    link = tmp_path / "data" / "gallery-favorites.json"
    link.parent.mkdir()
    link.symlink_to(target)

    st = fsutil.write_atomic(link, b"new")

    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert (st.st_ino, st.st_size) == (target.stat().st_ino, 3)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["gallery-favorites.json"]
    assert sorted(p.name for p in link.parent.iterdir()) == ["gallery-favorites.json"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file to another owner needs root")
def test_a_write_keeps_the_files_owner_group_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "gallery-favorites.json"
    path.write_bytes(b"{}")
    os.chown(path, 4321, 4322)  # the web server's account and a shared group
    os.chmod(path, 0o664)
    fsutil.write_atomic(path, b'{"favorites": {}}')
    st = path.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (4321, 4322, 0o664)
    assert path.read_bytes() == b'{"favorites": {}}'
