"""WriterLock: the favorites writers' cross-process lock and how it meets filelock's."""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from filelock import FileLock, Timeout

from gallery_desktop.core import favorites_disk
from gallery_desktop.core.errors import FavoritesWriteError
from gallery_desktop.core.favorites import FavoritesStore, lock_path_for
from gallery_desktop.core.favorites_disk import WriterLock


@pytest.fixture
def lock_file(tmp_path: Path) -> Path:
    return lock_path_for(tmp_path / "gallery-favorites.json")


def test_excludes_filelock_on_the_same_file_both_ways(lock_file: Path) -> None:
    mine, theirs = WriterLock(lock_file), FileLock(str(lock_file), thread_local=False)
    assert mine.acquire(1.0)
    with pytest.raises(Timeout):
        theirs.acquire(timeout=0.05)
    mine.release()
    theirs.acquire(timeout=1.0)
    try:
        assert not mine.acquire(0.05)
    finally:
        theirs.release()
    assert mine.acquire(0.05)
    mine.release()
    assert lock_file.exists()  # stays in place, so every waiter locks the same inode


def test_two_locks_in_one_process_exclude_each_other(lock_file: Path) -> None:
    # Two stores on one file in one process (two windows) each have their own lock.
    first, second = WriterLock(lock_file), WriterLock(lock_file)
    assert first.acquire(1.0)
    assert not second.acquire(0.05)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(second.acquire(5.0)))
    waiter.start()
    first.release()
    waiter.join()
    assert got == [True]
    second.release()


def test_a_replaced_lock_file_is_locked_afresh(lock_file: Path) -> None:
    lock = WriterLock(lock_file)
    assert lock.acquire(1.0)
    lock.release()
    lock_file.unlink()  # e.g. someone cleaned the folder
    assert lock.acquire(1.0) and lock_file.exists()
    with pytest.raises(Timeout):
        FileLock(str(lock_file)).acquire(timeout=0.05)
    lock.release()


def test_store_times_out_against_a_holder_and_names_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "gallery-favorites.json"
    store = FavoritesStore(path, lock_timeout=0.1)
    store.load()
    other = FileLock(str(lock_path_for(path)))
    other.acquire()
    try:
        with pytest.raises(FavoritesWriteError, match=f"held {lock_path_for(path).name} for over"):
            store.set_favorite("img_a", True)
    finally:
        other.release()
    assert store.set_favorite("img_a", True) is True


def test_falls_back_to_filelock_where_flock_is_unsupported(
        lock_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file system without flock cannot be made here: refuse it in this module only.
    def no_flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(favorites_disk, "fcntl", SimpleNamespace(
        flock=no_flock, LOCK_EX=fcntl.LOCK_EX, LOCK_NB=fcntl.LOCK_NB, LOCK_UN=fcntl.LOCK_UN))
    lock = WriterLock(lock_file)
    assert lock.acquire(1.0)
    with pytest.raises(Timeout):
        FileLock(str(lock_file)).acquire(timeout=0.05)
    lock.release()
    other = FileLock(str(lock_file))
    other.acquire(timeout=1.0)
    other.release()


def _heart_in(path: Path) -> str:
    store = FavoritesStore(path, lock_timeout=0.2)
    store.load()
    try:
        store.set_favorite("img_a", True)
    except FavoritesWriteError as err:
        return str(err)
    return "saved"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="runs the write as another user")
def test_a_read_only_data_folder_is_reported_as_such(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = data / "gallery-favorites.json"
    path.write_text('{"favorites": {}, "usageCounts": {}}', encoding="utf-8")
    data.chmod(0o555)
    try:
        if os.geteuid() != 0:
            message = _heart_in(path)
        else:  # root writes anywhere: try it as nobody, in a child process
            for folder in (tmp_path, *tmp_path.parents):
                if folder == Path(tempfile.gettempdir()) or folder == folder.parent:
                    break
                folder.chmod(folder.stat().st_mode | 0o055)
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                try:
                    os.close(read)
                    os.setgid(65534)
                    os.setuid(65534)
                    os.write(write, _heart_in(path).encode())
                except BaseException as err:
                    os.write(write, f"child failed: {err!r}".encode())
                finally:
                    os._exit(0)
            os.close(write)
            with os.fdopen(read, "rb") as f:
                message = f.read().decode()
            os.waitpid(pid, 0)
        assert "Permission denied" in message, message
    finally:
        data.chmod(0o755)
