"""FavoritesService: loads, writes in order off the GUI thread, coalesces, reports failures."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from gallery_desktop.core import fsutil
from gallery_desktop.core.favorites import FavoritesStore, lock_path_for
from gallery_desktop.qt.favorites_service import FavoritesService


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def fav_file(tmp_path: Path) -> Path:
    path = tmp_path / "gallery-favorites.json"
    path.write_text(json.dumps({"favorites": {"img_a": True}, "usageCounts": {"img_b": 2}},
                               indent=2), encoding="utf-8")
    return path


@pytest.fixture
def service(qtbot, fav_file: Path) -> Iterator[FavoritesService]:
    service = FavoritesService(FavoritesStore(fav_file))
    with qtbot.waitSignal(service.loaded, timeout=5000):
        service.load()
    yield service
    service.shutdown()


def wait_idle(qtbot, service: FavoritesService) -> None:
    qtbot.waitUntil(service.is_idle, timeout=10_000)


def test_load_reports_hearts_counts_and_no_problem(qtbot, fav_file) -> None:
    service = FavoritesService(FavoritesStore(fav_file))
    with qtbot.waitSignal(service.loaded, timeout=5000) as blocker:
        service.load()
    service.shutdown()
    favorites, usage, problem = blocker.args
    assert favorites == frozenset({"img_a"}) and usage == {"img_b": 2} and problem is None


def test_load_of_a_corrupt_file_reports_the_problem(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "gallery-favorites.json"
    path.write_text('{"favorites": {"img_a": tr', encoding="utf-8")
    service = FavoritesService(FavoritesStore(path, parse_retry_s=0.05))
    try:
        with qtbot.waitSignal(service.loaded, timeout=5000) as blocker:
            service.load()
        favorites, _usage, problem = blocker.args
        assert favorites == frozenset() and str(path) in problem
    finally:
        service.shutdown()


def test_write_reaches_the_file_off_the_gui_thread(qtbot, service, fav_file, monkeypatch
                                                   ) -> None:
    threads: list[str] = []
    real = fsutil.write_atomic

    def spy(path: Path, data: bytes, *rest: Any) -> os.stat_result:
        threads.append(threading.current_thread().name)
        return real(path, data, *rest)

    monkeypatch.setattr(fsutil, "write_atomic", spy)
    with qtbot.waitSignal(service.favorite_saved, timeout=5000) as blocker:
        service.set_favorite("img_new", True)
        assert service.has_pending("img_new")
    assert blocker.args == ["img_new", True]
    assert not service.has_pending("img_new")
    assert read(fav_file)["favorites"] == {"img_a": True, "img_new": True}
    assert threads and all(t.startswith("gallery-favorites") for t in threads)


def test_failed_write_reports_file_and_error_and_leaves_the_file(qtbot, service, fav_file,
                                                                 monkeypatch) -> None:
    before = fav_file.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with qtbot.waitSignal(service.favorite_failed, timeout=5000) as blocker:
        service.set_favorite("img_a", False)
    image_id, stored, message, latest = blocker.args
    assert (image_id, stored, latest) == ("img_a", True, True)
    assert str(fav_file) in message and "No space left on device" in message
    assert fav_file.read_bytes() == before
    assert service.store.is_favorite("img_a")
    assert not [p for p in fav_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_burst_of_clicks_coalesces_and_the_last_one_wins(qtbot, service, fav_file,
                                                           monkeypatch) -> None:
    writes: list[bytes] = []
    real = fsutil.write_atomic

    def counting(path: Path, data: bytes, *rest: Any) -> os.stat_result:
        writes.append(data)
        return real(path, data, *rest)

    monkeypatch.setattr(fsutil, "write_atomic", counting)
    # Another gallery process holds the file lock, so the first write waits while the
    # other 50 clicks arrive.
    other = FileLock(str(lock_path_for(fav_file)))
    other.acquire()
    try:
        for click in range(51):
            service.set_favorite("img_burst", click % 2 == 0)
        assert service.pending_ids() == {"img_burst"}
    finally:
        other.release()
    wait_idle(qtbot, service)
    assert len(writes) <= 2
    assert read(fav_file)["favorites"].get("img_burst") is True
    assert service.store.is_favorite("img_burst")
    assert service.pending_ids() == set()


def test_writes_happen_in_request_order(qtbot, service, fav_file, monkeypatch) -> None:
    order: list[str] = []
    real = fsutil.write_atomic

    def spy(path: Path, data: bytes, *rest: Any) -> os.stat_result:
        doc = json.loads(data)
        order.append(",".join(sorted(doc.get("favorites", {}))))
        return real(path, data, *rest)

    monkeypatch.setattr(fsutil, "write_atomic", spy)
    for name in ("img_1", "img_2", "img_3"):
        service.set_favorite(name, True)
    service.set_favorite("img_a", False)
    wait_idle(qtbot, service)
    assert order == ["img_1,img_a", "img_1,img_2,img_a", "img_1,img_2,img_3,img_a",
                     "img_1,img_2,img_3"]


def test_usage_counts_on_top_of_the_file(qtbot, service, fav_file) -> None:
    counts: list[int] = []
    service.usage_saved.connect(lambda _i, n: counts.append(n))
    for _ in range(3):
        service.increment_usage("img_b")
    wait_idle(qtbot, service)
    assert counts == [3, 4, 5]
    assert read(fav_file)["usageCounts"]["img_b"] == 5


def test_failed_usage_write_is_reported(qtbot, service, fav_file, monkeypatch) -> None:
    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with qtbot.waitSignal(service.usage_failed, timeout=5000) as blocker:
        service.increment_usage("img_b")
    assert blocker.args[0] == "img_b" and "Permission denied" in blocker.args[1]
    assert read(fav_file)["usageCounts"]["img_b"] == 2


def test_reload_reports_only_real_changes(qtbot, service, fav_file) -> None:
    with qtbot.assertNotEmitted(service.reloaded, wait=100):
        service.reload()
        wait_idle(qtbot, service)
    # The web server rewrites the file in place.
    fav_file.write_text(json.dumps({"favorites": {"img_web": True},
                                    "usageCounts": {"img_b": 7}}), encoding="utf-8")
    with qtbot.waitSignal(service.reloaded, timeout=5000) as blocker:
        service.reload()
    assert blocker.args == [frozenset({"img_web"}), {"img_b": 7}, None]


def test_idle_signal_and_shutdown_flushes(qtbot, fav_file) -> None:
    service = FavoritesService(FavoritesStore(fav_file))
    states: list[bool] = []
    service.idle_changed.connect(states.append)
    for n in range(5):
        service.set_favorite(f"img_s{n}", True)
    assert not service.is_idle()
    assert service.shutdown(timeout_s=10)
    assert set(read(fav_file)["favorites"]) == {"img_a"} | {f"img_s{n}" for n in range(5)}
    service.set_favorite("img_late", True)  # ignored once shut down
    qtbot.waitUntil(lambda: states == [False, True], timeout=5000)
    assert "img_late" not in read(fav_file)["favorites"]


def test_requests_reach_the_worker_after_the_call_returns(qtbot, service, fav_file,
                                                          monkeypatch) -> None:
    returned: list[bool] = []
    seen: list[bool] = []
    real = service.store.set_favorite

    def spy(image_id: str, value: bool) -> None:
        seen.append(bool(returned))
        real(image_id, value)

    monkeypatch.setattr(service.store, "set_favorite", spy)
    service.set_favorite("img_later", True)
    returned.append(True)
    assert not service.is_idle()
    wait_idle(qtbot, service)
    assert seen == [True]
    assert read(fav_file)["favorites"].get("img_later") is True
