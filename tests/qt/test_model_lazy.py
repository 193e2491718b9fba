"""GalleryModel with runs handed over as RunRows: rows placed, filtered and searched before
their records are built, and built a run at a time when first needed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from gallery_desktop.core.records import GalleryImage, ImageSource, RunRows
from gallery_desktop.qt.model import GalleryModel
from gallery_desktop.qt.roles import ImageRole, SortMode, ThumbState
from tests.qt.test_model import ids, rec, thumb


class Rows(RunRows):
    """A run whose records are at hand, counting how often they are built."""

    __slots__ = ("builds", "records")

    def __init__(self, records: Sequence[GalleryImage]) -> None:
        first = records[0]
        super().__init__(first.run_id, f"/d/runs/{first.run_id}", first.created_ts,
                         tuple(r.id for r in records), tuple(r.post_order for r in records))
        self.records = tuple(records)
        self.builds = 0

    def _make_images(self) -> tuple[GalleryImage, ...]:
        self.builds += 1
        return self.records

    def _make_search_texts(self) -> tuple[str, ...]:
        return tuple(r.search_text() for r in self.records)


def runs(*numbers: int, posts: int = 2) -> list[Rows]:
    return [Rows([rec(n, p) for p in range(1, posts + 1)]) for n in numbers]


@pytest.fixture
def model(qtbot) -> GalleryModel:
    return GalleryModel()


def test_rows_take_their_places_without_building_records(model: GalleryModel) -> None:
    lazy = runs(3, 1, 5)
    model.insert_images([rec(4, 1), rec(2, 2)])
    assert model.insert_runs(lazy) == 6
    assert model.rowCount() == 8
    assert [r.builds for r in lazy] == [0, 0, 0]
    # Finding, filtering and counting need no record either.
    assert model.row_of(rec(1, 2).id) == 7
    assert model.ids_of_run(rec(3).run_id) == {rec(3, 1).id, rec(3, 2).id}
    model.apply_favorites({rec(1, 1).id, rec(4, 1).id}, {rec(5, 2).id: 3})
    assert model.favorite_count() == 2 and model.usage_count(rec(5, 2).id) == 3
    assert model.accept_flags(True, []) == [
        i in {rec(1, 1).id, rec(4, 1).id} for i in
        [rec(5, 1).id, rec(5, 2).id, rec(4, 1).id, rec(3, 1).id, rec(3, 2).id, rec(2, 2).id,
         rec(1, 1).id, rec(1, 2).id]]
    assert model.accepts(3, False, ["prompt 3 1"]) and not model.accepts(4, False, ["3 1"])
    assert [r.builds for r in lazy] == [0, 0, 0]
    # The order is the one the records give, built or not.
    assert ids(model) == [rec(n, p).id for n, p in
                          [(5, 1), (5, 2), (4, 1), (3, 1), (3, 2), (2, 2), (1, 1), (1, 2)]]


def test_a_row_shown_builds_its_run_once_and_only_its_run(model: GalleryModel) -> None:
    lazy = runs(1, 2, 3)
    model.insert_runs(lazy)
    index = model.index(model.row_of(rec(2, 2).id))
    assert index.data(Qt.ItemDataRole.DisplayRole) == "Caption 2.2"
    assert [r.builds for r in lazy] == [0, 1, 0]
    assert model.built_count() == 2  # the run's two rows
    values = model.cell_values(model.row_of(rec(2, 1).id))
    assert values is not None and values.title == "Caption 2.1"
    assert values.thumb_state is ThumbState.LOADING
    assert model.needs_thumbnail(index.row()) == rec(2, 2).image_path
    assert model.get(rec(3, 1).id) == rec(3, 1)
    assert model.record(model.row_of(rec(1, 2).id)) == rec(1, 2)
    assert [r.builds for r in lazy] == [1, 1, 1]


def test_a_built_row_takes_its_thumbnail(model: GalleryModel) -> None:
    model.insert_runs(runs(1))
    path = rec(1, 1).image_path
    assert path is not None
    model.set_thumbnail(path, thumb())  # not built yet: nobody shows the file
    assert not model.has_thumbnail(path)
    assert model.ids_of_path(path) == set()
    row = model.row_of(rec(1, 1).id)
    assert model.needs_thumbnail(row) == path  # built now
    model.set_thumbnail(path, thumb())
    assert model.has_thumbnail(path)
    assert model.index(row).data(ImageRole.THUMB_STATE) is ThumbState.READY


def test_pending_rows_are_removed_updated_and_moved_like_any(model: GalleryModel) -> None:
    lazy = runs(1, 2, 3)
    model.insert_runs(lazy)
    keep = QPersistentModelIndex(model.index(model.row_of(rec(1, 1).id)))
    assert model.remove_images([rec(3, 2).id]) == 1
    assert lazy[2].builds == 0
    assert model.update_image(rec(2, 1, prompt="changed")) is True
    assert model.get(rec(2, 1).id) == rec(2, 1, prompt="changed")
    assert model.accepts(model.row_of(rec(2, 1).id), False, ["changed"])
    model.replace_runs({rec(1).run_id: [rec(1, 1, created_ts=9.0)]})  # gone: post 2
    assert ids(model)[0] == rec(1, 1).id and rec(1, 2).id not in model.ids()
    assert keep.isValid() and keep.row() == 0
    model.set_order(SortMode.OLDEST)
    assert ids(model) == [rec(2, 1).id, rec(2, 2).id, rec(3, 1).id, rec(1, 1).id]


def test_resorting_pending_rows_builds_nothing(model: GalleryModel) -> None:
    lazy = runs(1, 2)
    model.insert_runs(lazy)
    model.apply_favorites(set(), {rec(1, 2).id: 4})
    model.set_order(SortMode.MOST_USED)
    model.set_order(SortMode.OLDEST)
    assert [r.builds for r in lazy] == [0, 0]
    assert [model.index(r).data(ImageRole.IMAGE_ID) for r in range(4)] == [
        rec(1, 1).id, rec(1, 2).id, rec(2, 1).id, rec(2, 2).id]


def test_a_run_with_a_shown_id_goes_in_built(model: GalleryModel) -> None:
    model.insert_images([rec(1, 1, prompt="first")])
    lazy = runs(1)
    assert model.insert_runs(lazy) == 1  # post 2 is new; post 1 is updated
    assert lazy[0].builds == 1
    assert model.get(rec(1, 1).id) == rec(1, 1)
    assert model.rowCount() == 2


def test_a_run_that_cannot_be_built_shows_its_images_as_missing(model: GalleryModel) -> None:
    class Broken(Rows):
        __slots__ = ()

        def _make_images(self) -> None:
            return None

    broken = Broken([rec(1, 1), rec(1, 2)])
    told: list[list[str]] = []
    model.runs_damaged.connect(told.append)
    model.insert_runs([broken])
    assert told == []  # not known before it is built
    shown = model.record(0)
    assert shown.id == rec(1, 1).id and shown.source is ImageSource.MISSING
    assert broken.damaged
    assert model.index(0).data(ImageRole.THUMB_STATE) is ThumbState.MISSING
    assert model.record(1).source is ImageSource.MISSING
    assert told == [[rec(1, 1).run_id]]  # once, so its run is read again


def test_passes_qt_model_tester_with_pending_rows(qtmodeltester, model: GalleryModel) -> None:
    model.insert_runs(runs(1, 2, 3, 4))
    qtmodeltester.check(model, force_py=True)
    model.insert_runs(runs(6))
    model.remove_images([rec(2, 1).id])
    model.set_order(SortMode.OLDEST)
    assert model.rowCount(QModelIndex()) == 9


@pytest.mark.parametrize("change", ["order", "usage"])
def test_a_row_read_while_rows_are_about_to_move_is_right_and_nothing_is_overwritten(
        model: GalleryModel, change: str) -> None:
    model.set_order(SortMode.OLDEST)
    model.insert_runs(runs(1, 2, 3))
    seen: list[str] = []

    def read_first_row(*_args: object) -> None:
        # Keys are mid-change here: the row must still be read right, and written nowhere.
        seen.append(model.index(0).data(ImageRole.IMAGE_ID))
        seen.append(model.record(0).id)

    model.layoutAboutToBeChanged.connect(read_first_row)
    model.rowsAboutToBeMoved.connect(read_first_row)
    if change == "order":
        model.set_order(SortMode.MOST_USED)
    else:
        model.set_order(SortMode.MOST_USED)
        model.set_usage_count(rec(1, 2).id, 5)
    assert seen and len(set(seen[:2])) == 1
    expected = {r.id: r for r in (rec(n, p) for n in (1, 2, 3) for p in (1, 2))}
    assert sorted(ids(model)) == sorted(expected)
    assert all(model.get(i) == expected[i] for i in expected)


def test_an_id_twice_among_the_runs_given_keeps_the_first_in_row_order(
        model: GalleryModel) -> None:
    twice_in_one = Rows([rec(1, 1), rec(1, 1, prompt="again"), rec(1, 2)])
    assert model.insert_runs([twice_in_one]) == 2
    assert model.rowCount() == 2 and model.get(rec(1, 1).id) == rec(1, 1)
    newer = Rows([rec(3, 1), rec(3, 2, id=rec(2, 1).id)])  # claims run 2's first id
    older = Rows([rec(2, 1), rec(2, 2)])
    model.insert_runs([older, newer])
    assert model.rowCount() == 5
    assert model.get(rec(2, 1).id) == rec(3, 2, id=rec(2, 1).id)  # newer: first in row order
    assert len(model.ids()) == model.rowCount()
