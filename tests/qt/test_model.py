"""GalleryModel: order, diffs, hearts, usage, thumbnails, drag data and Qt's model checks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QImage, QPixmap

from gallery_desktop.core.paths import OUTSIDE_REASON
from gallery_desktop.core.records import GalleryImage, ImageSource
from gallery_desktop.core.thumbnails import FILE_NOT_FOUND, NOT_A_FILE
from gallery_desktop.qt.model import MIME_IMAGE_IDS, GalleryModel, short_title
from gallery_desktop.qt.roles import ImageRole, SortMode, ThumbState


def rec(run: int, post: int = 1, *, ts: float | None = None, tmp: Path = Path("/d"),
        **kw: object) -> GalleryImage:
    """A record of run number ``run`` (higher = newer unless ``ts`` says otherwise)."""
    run_id = f"2025-01-01T00-00-{run:02d}-000Z"
    fields: dict[str, object] = {
        "id": f"img_{run_id}_slide-{post}", "run_id": run_id, "slide_id": f"slide-{post}",
        "image_url": f"/data/runs/{run_id}/slide-{post}.png",
        "image_path": str(tmp / "runs" / run_id / f"slide-{post}.png"),
        "prompt": f"prompt {run} {post}", "slide_text": f"Caption {run}.{post}",
        "created_ts": float(run if ts is None else ts), "post_order": post,
    }
    fields.update(kw)
    return GalleryImage(**fields)  # type: ignore[arg-type]


def ids(model: GalleryModel) -> list[str]:
    return [model.record(r).id for r in range(model.rowCount())]


def thumb(color: str = "#3498db") -> QImage:
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    return image


@pytest.fixture
def model(qtbot) -> GalleryModel:
    return GalleryModel()


def test_passes_qt_model_tester(qtmodeltester, model: GalleryModel) -> None:
    model.insert_images([rec(r, p) for r in range(1, 8) for p in (1, 2)])
    model.apply_favorites({rec(3).id}, {rec(4).id: 2})
    qtmodeltester.check(model, force_py=True)
    # The tester stays connected and checks every change that follows.
    model.set_order(SortMode.MOST_USED)
    model.set_usage_count(rec(1, 2).id, 5)
    model.insert_images([rec(9), rec(0, 3)])
    model.remove_images([rec(4).id, rec(5, 1).id])
    model.replace_runs({rec(2).run_id: [rec(2, 1, prompt="new")]})
    model.set_order(SortMode.OLDEST)


def test_role_names_expose_the_contract(model: GalleryModel) -> None:
    names = {bytes(v) for v in model.roleNames().values()}
    assert {b"record", b"imageId", b"isFavorite", b"usageCount", b"prompt", b"slideText",
            b"runId", b"imagePath", b"thumbState", b"createdTs", b"searchText",
            b"thumbError", b"display"} <= names


def test_batches_in_any_order_end_newest_first(qtbot, model: GalleryModel) -> None:
    records = [rec(r, p) for r in range(1, 41) for p in (1, 2, 3)]
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    for start in range(0, len(shuffled), 25):
        model.insert_images(shuffled[start:start + 25])
    expected = sorted(records, key=lambda r: r.sort_key)
    assert ids(model) == [r.id for r in expected]
    assert ids(model)[:3] == [rec(40, 1).id, rec(40, 2).id, rec(40, 3).id]
    assert sum(last - first + 1 for first, last in inserted) == len(records)
    for r in (0, 17, len(records) - 1):
        assert model.row_of(model.record(r).id) == r
    assert model.row_of("img_nope") == -1
    with pytest.raises(IndexError):
        model.record(-1)


def test_one_sorted_block_goes_in_with_one_insert(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1), rec(50)])
    with qtbot.waitSignal(model.rowsInserted) as blocker:
        assert model.insert_images([rec(r) for r in range(10, 20)]) == 10
    assert blocker.args[1:] == [1, 10]


def test_known_id_is_updated_not_duplicated(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1), rec(2)])
    with qtbot.waitSignal(model.dataChanged) as blocker:
        assert model.insert_images([rec(1, prompt="new words")]) == 0
    assert model.rowCount() == 2
    assert model.record(1).prompt == "new words"
    roles = blocker.args[2]
    assert ImageRole.PROMPT in roles and ImageRole.SEARCH_TEXT in roles
    assert ImageRole.IS_FAVORITE not in roles and ImageRole.SLIDE_TEXT not in roles


def test_remove_takes_contiguous_ranges(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(r) for r in range(1, 11)])
    removed: list[tuple[int, int]] = []
    model.rowsRemoved.connect(lambda _p, first, last: removed.append((first, last)))
    gone = [rec(r).id for r in (10, 9, 5, 4, 3)] + ["img_unknown"]
    assert model.remove_images(gone) == 5
    assert sorted(removed) == [(0, 1), (5, 7)]
    assert ids(model) == [rec(r).id for r in (8, 7, 6, 2, 1)]


def test_data_roles(model: GalleryModel) -> None:
    remote = rec(3, image_path=None, source=ImageSource.REMOTE, image_url="https://x/y.png")
    missing = rec(2, source=ImageSource.MISSING)
    outside = rec(1, image_path=None, source=ImageSource.OUTSIDE, slide_text="")
    local = rec(4, prompt="a <b>bold</b> cat", topic="Cats")
    model.insert_images([remote, missing, outside, local])
    idx = model.index(model.row_of(local.id))
    assert idx.data(Qt.ItemDataRole.DisplayRole) == "Caption 4.1"
    assert idx.data(ImageRole.RECORD) == local
    assert idx.data(ImageRole.IMAGE_ID) == local.id
    assert idx.data(ImageRole.PROMPT) == "a <b>bold</b> cat"
    assert idx.data(ImageRole.SLIDE_TEXT) == "Caption 4.1"
    assert idx.data(ImageRole.RUN_ID) == local.run_id
    assert idx.data(ImageRole.IMAGE_PATH) == local.image_path
    assert idx.data(ImageRole.CREATED_TS) == 4.0
    assert "cats" in idx.data(ImageRole.SEARCH_TEXT)
    assert idx.data(ImageRole.IS_FAVORITE) is False
    assert idx.data(ImageRole.USAGE_COUNT) == 0
    assert idx.data(ImageRole.THUMB_STATE) == ThumbState.LOADING
    assert idx.data(Qt.ItemDataRole.DecorationRole) is None
    tip = idx.data(Qt.ItemDataRole.ToolTipRole)
    assert "a &lt;b&gt;bold&lt;/b&gt; cat" in tip and local.run_id in tip
    assert idx.data(Qt.ItemDataRole.EditRole) is None
    state = {r.id: model.index(model.row_of(r.id)).data(ImageRole.THUMB_STATE)
             for r in (remote, missing, outside)}
    assert state == {remote.id: ThumbState.REMOTE, missing.id: ThumbState.MISSING,
                     outside.id: ThumbState.MISSING}
    # The tooltip says what a placeholder means; a picture needs no such line.
    tips = {r.id: model.index(model.row_of(r.id)).data(Qt.ItemDataRole.ToolTipRole)
            for r in (local, remote, missing, outside)}
    assert "<b>" not in tips[local.id]
    assert f"<b>Remote image, not downloaded: {remote.image_url}</b>" in tips[remote.id]
    assert f"<b>Image missing: {missing.image_path}</b>" in tips[missing.id]
    assert "points outside the data folder</b>" in tips[outside.id]
    assert model.index(model.row_of(outside.id)).data() == "slide-1"
    assert model.data(QModelIndex(), ImageRole.IMAGE_ID) is None


def test_short_title_takes_first_line_and_shortens() -> None:
    assert short_title(rec(1, slide_text="  First line\nsecond")) == "First line"
    long = short_title(rec(1, slide_text="word " * 40))
    assert len(long) <= 60 and long.endswith("…")


def test_set_data_is_optimistic_and_names_only_the_heart(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1), rec(2)])
    idx = model.index(1)
    requests: list[tuple[str, bool]] = []
    model.favorite_set_requested.connect(lambda i, v: requests.append((i, v)))
    with qtbot.waitSignal(model.dataChanged) as blocker:
        assert model.setData(idx, True, ImageRole.IS_FAVORITE)
    assert blocker.args[2] == [ImageRole.IS_FAVORITE]
    assert idx.data(ImageRole.IS_FAVORITE) is True
    assert requests == [(rec(1).id, True)]
    assert model.favorite_count() == 1
    assert not model.setData(idx, "x", Qt.ItemDataRole.EditRole)
    assert not model.setData(QModelIndex(), True, ImageRole.IS_FAVORITE)
    with qtbot.assertNotEmitted(model.dataChanged), \
            qtbot.assertNotEmitted(model.favorite_set_requested):
        model.set_favorite_state(rec(1).id, True)  # already shown: nothing to repaint
        assert model.setData(idx, True, ImageRole.IS_FAVORITE)  # nothing to write either


def test_apply_favorites_changes_only_what_differs(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(r) for r in range(1, 6)])
    model.apply_favorites({rec(1).id, rec(2).id}, {rec(3).id: 4})
    assert model.favorite_count() == 2
    changed: list[tuple[int, list[int]]] = []
    model.dataChanged.connect(lambda tl, _br, roles: changed.append((tl.row(), list(roles))))
    flipped = model.apply_favorites({rec(2).id, rec(5).id, "img_elsewhere"},
                                    {rec(3).id: 4, rec(4).id: 1}, keep={rec(5).id})
    assert set(flipped) == {rec(1).id, "img_elsewhere"}
    assert sorted(changed) == sorted([(model.row_of(rec(1).id), [ImageRole.IS_FAVORITE]),
                                      (model.row_of(rec(4).id), [ImageRole.USAGE_COUNT])])
    assert not model.is_favorite(rec(5).id)  # a pending write keeps its optimistic value
    assert model.is_favorite("img_elsewhere")
    assert model.favorite_count() == 1
    assert model.usage_count(rec(4).id) == 1
    model.remove_images([rec(2).id])
    assert model.favorite_count() == 0
    model.insert_images([rec(2)])
    assert model.favorite_count() == 1


def test_replace_runs_applies_a_diff_without_reset(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1, 1), rec(1, 2), rec(2, 1), rec(3, 1)])
    with qtbot.assertNotEmitted(model.modelReset):
        model.replace_runs({
            rec(1).run_id: [rec(1, 1, prompt="changed"), rec(1, 3)],  # 2 gone, 3 new
            rec(3).run_id: [],  # the run is gone
            rec(9).run_id: [rec(9, 1)],  # a new run
        })
    assert ids(model) == [rec(9).id, rec(2).id, rec(1, 1).id, rec(1, 3).id]
    assert model.record(2).prompt == "changed"
    assert model.ids_of_run(rec(3).run_id) == set()
    assert model.ids_of_run(rec(1).run_id) == {rec(1, 1).id, rec(1, 3).id}


def test_changed_time_moves_the_row(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1), rec(2), rec(3)])
    assert model.update_image(rec(1, ts=10.0))
    assert ids(model) == [rec(1).id, rec(3).id, rec(2).id]
    assert not model.update_image(rec(1, ts=10.0))
    assert not model.update_image(rec(7))


def test_a_moved_row_keeps_its_persistent_index_and_thumbnail(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1), rec(2), rec(3)])
    model.set_thumbnail(rec(1).image_path, thumb())
    held = QPersistentModelIndex(model.index_of(rec(1).id))  # what a selection holds
    events: list[str] = []
    model.rowsRemoved.connect(lambda *_: events.append("removed"))
    model.rowsMoved.connect(lambda *_: events.append("moved"))
    assert model.update_image(rec(1, ts=10.0, slide_text="Newer"))
    assert events == ["moved"]
    assert held.isValid() and held.row() == 0 and held.data() == "Newer"
    assert model.has_thumbnail(rec(1).image_path)


def test_an_edited_caption_keeps_the_thumbnail(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1), rec(2)])
    model.set_thumbnail(rec(1).image_path, thumb())
    with qtbot.waitSignal(model.dataChanged) as blocker:
        assert model.update_image(rec(1, slide_text="Rewritten"))
    roles = blocker.args[2]
    assert int(Qt.ItemDataRole.DisplayRole) in roles
    assert int(Qt.ItemDataRole.DecorationRole) not in roles
    index = model.index_of(rec(1).id)
    assert index.data(ImageRole.THUMB_STATE) == ThumbState.READY
    assert index.data() == "Rewritten"


def test_a_file_not_there_shows_as_missing_until_it_appears(qtbot, model: GalleryModel) -> None:
    # A scan names image files without looking at them: a missing one is learnt from its
    # thumbnail, and shown as missing (not as broken) with its path.
    model.insert_images([rec(1, source=ImageSource.LOCAL)])
    path = rec(1).image_path
    assert model.index(0).data(ImageRole.THUMB_STATE) == ThumbState.LOADING
    model.set_thumbnail_failed(path, FILE_NOT_FOUND)
    assert model.index(0).data(ImageRole.THUMB_STATE) == ThumbState.MISSING
    assert f"Image missing: {path}" in model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert model.thumbnail_missing(path) and model.needs_thumbnail(0) is None
    with qtbot.assertNotEmitted(model.dataChanged):
        model.set_thumbnail_failed(path, FILE_NOT_FOUND)  # asked again: nothing to repaint
    model.set_thumbnail_failed(path, "cannot identify image file")  # there now, but bad
    assert model.index(0).data(ImageRole.THUMB_STATE) == ThumbState.BROKEN
    with qtbot.waitSignal(model.dataChanged):
        assert model.invalidate_thumbnail(path)  # the watcher saw the file written
    assert model.index(0).data(ImageRole.THUMB_STATE) == ThumbState.LOADING
    assert model.needs_thumbnail(0) == path and not model.thumbnail_missing(path)


def test_a_row_that_comes_to_name_a_file_is_loaded(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1, source=ImageSource.MISSING)])  # its URL named a folder
    assert model.index(0).data(ImageRole.THUMB_STATE) == ThumbState.MISSING
    with qtbot.waitSignal(model.dataChanged) as blocker:
        model.update_image(rec(1, source=ImageSource.LOCAL))
    assert int(ImageRole.IMAGE_PATH) in blocker.args[2]  # the view asks for it again
    assert model.index(0).data(ImageRole.THUMB_STATE) == ThumbState.LOADING
    assert model.needs_thumbnail(0) == rec(1).image_path


def test_usage_count_updates_one_role(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1)])
    with qtbot.waitSignal(model.dataChanged) as blocker:
        model.set_usage_count(rec(1).id, 3)
    assert blocker.args[2] == [ImageRole.USAGE_COUNT]
    assert model.index(0).data(ImageRole.USAGE_COUNT) == 3


def test_thumbnail_ready_failed_and_invalidated(qtbot, model: GalleryModel) -> None:
    shared = "/d/shared.png"
    model.insert_images([rec(1, image_path=shared), rec(2, image_path=shared), rec(3)])
    rows: list[int] = []
    model.dataChanged.connect(lambda tl, _br, _roles: rows.append(tl.row()))
    model.set_thumbnail(shared, thumb())
    assert sorted(rows) == [1, 2]  # both rows showing the file repaint
    pixmap = model.index(1).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(pixmap, QPixmap) and pixmap.width() == 40
    assert model.index(2).data(ImageRole.THUMB_STATE) == ThumbState.READY
    assert model.has_thumbnail(shared) and model.needs_thumbnail(1) is None
    assert model.needs_thumbnail(0) == rec(3).image_path

    model.set_thumbnail_failed(shared, "truncated PNG")
    assert model.index(1).data(ImageRole.THUMB_STATE) == ThumbState.BROKEN
    assert model.index(1).data(ImageRole.THUMB_ERROR) == "truncated PNG"
    assert "<b>Can't read image: truncated PNG</b>" in model.index(1).data(
        Qt.ItemDataRole.ToolTipRole)
    assert model.index(1).data(Qt.ItemDataRole.DecorationRole) is None

    assert model.invalidate_thumbnail(shared)
    assert model.index(1).data(ImageRole.THUMB_STATE) == ThumbState.LOADING
    assert not model.invalidate_thumbnail("/d/unknown.png")
    model.set_thumbnail("/d/unknown.png", thumb())  # not shown: ignored
    assert not model.has_thumbnail("/d/unknown.png")


def test_pixmap_cache_is_bounded_and_evicts_least_recent(qtbot) -> None:
    one = 40 * 30 * 4
    model = GalleryModel(pixmap_budget_bytes=3 * one)
    records = [rec(r) for r in range(1, 6)]
    model.insert_images(records)
    for r in records[:3]:
        model.set_thumbnail(r.image_path, thumb())
    model.index(model.row_of(records[0].id)).data(Qt.ItemDataRole.DecorationRole)  # touch
    model.set_thumbnail(records[3].image_path, thumb())
    assert model.has_thumbnail(records[0].image_path)
    assert not model.has_thumbnail(records[1].image_path)
    row = model.row_of(records[1].id)
    assert model.index(row).data(ImageRole.THUMB_STATE) == ThumbState.LOADING
    model.clear_thumbnails()
    assert not any(model.has_thumbnail(r.image_path) for r in records)


def test_removing_the_last_row_of_a_file_drops_its_pixmap(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1)])
    model.set_thumbnail(rec(1).image_path, thumb())
    model.remove_images([rec(1).id])
    model.insert_images([rec(1)])
    assert model.index(0).data(ImageRole.THUMB_STATE) == ThumbState.LOADING


def test_mime_data_carries_file_urls_ids_and_image(qtbot, model: GalleryModel) -> None:
    remote = rec(2, image_path=None, source=ImageSource.REMOTE)
    model.insert_images([rec(1), remote])
    model.set_thumbnail(rec(1).image_path, thumb())
    assert model.supportedDragActions() == Qt.DropAction.CopyAction
    assert model.flags(model.index(0)) & Qt.ItemFlag.ItemIsDragEnabled
    mime = model.mimeData([model.index(1)])
    assert [u.toLocalFile() for u in mime.urls()] == [str(rec(1).image_path)]
    assert bytes(mime.data(MIME_IMAGE_IDS).data()).decode() == rec(1).id
    assert mime.hasImage()
    both = model.mimeData([model.index(0), model.index(1)])
    assert len(both.urls()) == 1  # the remote image has no file to hand over
    assert bytes(both.data(MIME_IMAGE_IDS).data()).decode().split() == [remote.id, rec(1).id]


@pytest.mark.parametrize("reason", [FILE_NOT_FOUND, OUTSIDE_REASON, NOT_A_FILE])
def test_a_file_its_thumbnail_found_absent_is_not_handed_to_a_drop(
        qtbot, model: GalleryModel, reason: str) -> None:
    model.insert_images([rec(1), rec(2)])
    model.set_thumbnail_failed(rec(1).image_path, reason)
    assert model.has_no_file(rec(1).image_path)
    mime = model.mimeData([model.index(0), model.index(1)])
    assert [u.toLocalFile() for u in mime.urls()] == [rec(2).image_path]
    assert mime.text() == rec(2).image_path
    assert bytes(mime.data(MIME_IMAGE_IDS).data()).decode().split() == [rec(2).id, rec(1).id]
    alone = model.mimeData([model.index(1)])  # nothing a drop target could take
    assert not alone.hasUrls() and not alone.hasText()
    assert bytes(alone.data(MIME_IMAGE_IDS).data()).decode() == rec(1).id


def test_a_file_too_large_for_a_thumbnail_is_still_handed_to_a_drop(
        qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1)])
    model.set_thumbnail_failed(rec(1).image_path, "image too large to decode safely")
    assert not model.has_no_file(rec(1).image_path)
    assert [u.toLocalFile() for u in model.mimeData([model.index(0)]).urls()] == [
        rec(1).image_path]


def test_clear_resets(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(1), rec(2)])
    model.apply_favorites({rec(1).id}, {})
    with qtbot.waitSignal(model.modelReset):
        model.clear()
    assert model.rowCount() == 0 and model.favorite_count() == 0 and model.ids() == set()
    model.insert_images([rec(1)])
    assert not model.is_favorite(rec(1).id)  # hearts belonged to the old folder


def test_a_hundred_thousand_rows(qtbot, model: GalleryModel) -> None:
    records = [GalleryImage(id=f"img_{r}_{p}", run_id=f"run-{r:05d}", slide_id=f"slide-{p}",
                            image_url="", image_path=None, created_ts=float(r), post_order=p)
               for r in range(20_000) for p in range(1, 6)]
    # Batches as a scan sends them: oldest runs first, so each batch lands on top.
    for start in range(0, len(records), 5000):
        model.insert_images(records[start:start + 5000])
    assert model.rowCount() == 100_000
    assert [model.record(r).id for r in range(6)] == [
        "img_19999_1", "img_19999_2", "img_19999_3", "img_19999_4", "img_19999_5", "img_19998_1"]
    probe = records[54_321]
    assert model.record(model.row_of(probe.id)) == probe


def test_orders_keep_persistent_indexes_on_their_records(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(r, p) for r in (1, 2, 3) for p in (1, 2)])
    held = QPersistentModelIndex(model.index(model.row_of(rec(2, 2).id)))
    with qtbot.waitSignal(model.layoutChanged):
        model.set_order(SortMode.OLDEST)
    assert model.order() is SortMode.OLDEST
    assert ids(model) == [rec(r, p).id for r in (1, 2, 3) for p in (1, 2)]
    assert held.data(ImageRole.IMAGE_ID) == rec(2, 2).id and held.row() == 3
    model.insert_images([rec(0), rec(9)])
    assert ids(model)[0] == rec(0).id and ids(model)[-1] == rec(9).id
    with qtbot.assertNotEmitted(model.layoutChanged):
        model.set_order(SortMode.OLDEST)


def test_most_used_order_moves_a_row_whose_count_changes(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(r) for r in range(1, 6)])
    model.set_order(SortMode.MOST_USED)
    assert ids(model) == [rec(r).id for r in (5, 4, 3, 2, 1)]
    held = QPersistentModelIndex(model.index(model.row_of(rec(2).id)))
    with qtbot.waitSignal(model.rowsMoved):
        model.set_usage_count(rec(2).id, 4)
    assert ids(model) == [rec(r).id for r in (2, 5, 4, 3, 1)]
    assert held.row() == 0
    model.set_usage_count(rec(4).id, 4)  # equal counts: newest first
    assert ids(model)[:2] == [rec(4).id, rec(2).id]
    with qtbot.assertNotEmitted(model.rowsMoved):
        model.set_usage_count(rec(5).id, 1)  # ahead of the unused ones already
    assert ids(model) == [rec(r).id for r in (4, 2, 5, 3, 1)]
    model.set_usage_count(rec(4).id, 0)
    assert ids(model) == [rec(r).id for r in (2, 5, 4, 3, 1)]
    assert [model.row_of(rec(r).id) for r in (2, 5, 4, 3, 1)] == [0, 1, 2, 3, 4]


def test_many_count_changes_resort_once(qtbot, model: GalleryModel) -> None:
    model.insert_images([rec(r) for r in range(1, 21)])
    model.set_order(SortMode.MOST_USED)
    layouts: list[bool] = []
    model.layoutChanged.connect(lambda *_: layouts.append(True))
    model.apply_favorites(set(), {rec(r).id: r for r in range(1, 21)})
    assert layouts == [True]
    assert ids(model) == [rec(r).id for r in range(20, 0, -1)]
    model.apply_favorites(set(), {rec(r).id: 21 - r for r in range(1, 21)})
    assert ids(model) == [rec(r).id for r in range(1, 21)]
    assert [model.usage_count(rec(r).id) for r in (1, 20)] == [20, 1]


def test_accept_flags_match_accepts(model: GalleryModel) -> None:
    model.insert_images([rec(r, prompt=f"{'red' if r % 2 else 'blue'} cat {r}")
                         for r in range(1, 9)])
    model.apply_favorites({rec(1).id, rec(2).id, rec(5).id}, {})
    for favorites_only in (False, True):
        for words in ((), ("red",), ("cat", "blue"), ("dog",)):
            assert model.accept_flags(favorites_only, words) == [
                model.accepts(row, favorites_only, words) for row in range(model.rowCount())]
    assert model.accept_flags(True, ("red",)).count(True) == 2


def test_search_texts_made_elsewhere_are_taken_as_given(model: GalleryModel) -> None:
    model.insert_images([rec(1), rec(2)], {rec(1).id: "made by the scanner"})
    assert model.index(model.row_of(rec(1).id)).data(ImageRole.SEARCH_TEXT) == \
        "made by the scanner"
    assert model.index(model.row_of(rec(2).id)).data(ImageRole.SEARCH_TEXT) == \
        rec(2).search_text()


def test_a_file_shown_twice_keeps_its_thumbnail_until_both_rows_go(qtbot, model) -> None:
    shared = "/d/shared.png"
    model.insert_images([rec(1, image_path=shared), rec(2, image_path=shared)])
    model.set_thumbnail(shared, thumb())
    model.remove_images([rec(2).id])
    assert model.ids_of_path(shared) == {rec(1).id}
    assert model.has_thumbnail(shared)
    model.set_thumbnail_failed(shared, "gone bad")
    assert model.index(0).data(ImageRole.THUMB_ERROR) == "gone bad"
    model.remove_images([rec(1).id])
    assert model.ids_of_path(shared) == set() and not model.has_thumbnail(shared)


def test_cell_values_match_the_roles(qtbot, model: GalleryModel) -> None:
    shared = "/d/shared.png"
    model.insert_images([rec(1, image_path=shared), rec(2, slide_text=""),
                         rec(3, source=ImageSource.REMOTE, image_path=None)])
    model.set_thumbnail(shared, thumb())
    model.set_favorite_state(rec(2).id, True)
    model.set_usage_count(rec(1).id, 4)
    for row in range(model.rowCount()):
        index = model.index(row)
        values = model.cell_values(row)
        assert values is not None
        decoration = index.data(Qt.ItemDataRole.DecorationRole)
        assert (values.pixmap is None) == (decoration is None)
        assert values.thumb_state == index.data(ImageRole.THUMB_STATE)
        assert values.favorite == index.data(ImageRole.IS_FAVORITE)
        assert values.usage == index.data(ImageRole.USAGE_COUNT)
        assert values.title == index.data(Qt.ItemDataRole.DisplayRole)
    assert [v.thumb_state for v in map(model.cell_values, range(3))] == [
        ThumbState.REMOTE, ThumbState.LOADING, ThumbState.READY]
    assert model.cell_values(3) is None and model.cell_values(-1) is None


def test_an_id_that_moves_to_another_run_in_one_change_stays(model: GalleryModel) -> None:
    moved = rec(1, 1)
    model.insert_images([moved, rec(2, 1)])
    claimed = moved._replace(run_id=rec(2).run_id, created_ts=2.0, post_order=2)
    # The run losing the id comes first in one change set, last in the other.
    for changes, owner in (({moved.run_id: [], rec(2).run_id: [rec(2, 1), claimed]}, 2),
                           ({rec(2).run_id: [rec(2, 1)], moved.run_id: [moved]}, 1)):
        model.replace_runs(changes)
        assert moved.id in model.ids()
        assert moved.id in model.ids_of_run(rec(owner).run_id)
        assert model.get(moved.id) == (claimed if owner == 2 else moved)


def test_the_tooltip_names_an_inline_image_without_quoting_it(model: GalleryModel) -> None:
    inline = rec(1, image_path=None, source=ImageSource.OUTSIDE,
                  image_url="data:image/png;base64," + "A" * 100_000)
    model.insert_images([inline])
    tip = model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert "<b>Not shown: an inline data: URL (only files in the data folder are)</b>" in tip
    assert len(tip) < 300
