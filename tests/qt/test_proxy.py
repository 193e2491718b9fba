"""GalleryProxy: favorites only, search words, sort modes, live re-filtering."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, QStringListModel

from gallery_desktop.qt.model import GalleryModel
from gallery_desktop.qt.proxy import GalleryProxy, _FilterProxy
from gallery_desktop.qt.roles import ImageRole, SortMode
from tests.qt.test_model import rec


def shown(proxy: GalleryProxy) -> list[str]:
    return [proxy.index(r, 0).data(ImageRole.IMAGE_ID) for r in range(proxy.rowCount())]


@pytest.fixture
def model(qtbot) -> GalleryModel:
    model = GalleryModel()
    model.insert_images([
        rec(1, prompt="Sunlit kitchen, coffee", topic="Mornings"),
        rec(2, prompt="lunch boxes on a counter", model="gpt-4o"),
        rec(3, prompt="Child pouring cereal", slide_text="Let kids own a task",
            image_model="flux-1.1-pro", style_preset="warm-editorial"),
        rec(4, prompt="KITCHEN at night"),
    ])
    return model


@pytest.fixture
def proxy(model: GalleryModel) -> GalleryProxy:
    proxy = GalleryProxy()
    proxy.setSourceModel(model)
    return proxy


def test_passes_qt_model_tester(qtmodeltester, proxy: GalleryProxy) -> None:
    proxy.set_search_text("kitchen")
    proxy.set_sort_mode(SortMode.OLDEST)
    qtmodeltester.check(proxy, force_py=True)


def test_default_is_newest_first_unfiltered(proxy: GalleryProxy) -> None:
    assert shown(proxy) == [rec(4).id, rec(3).id, rec(2).id, rec(1).id]
    assert proxy.sort_mode() is SortMode.NEWEST
    assert not proxy.favorites_only()


def test_favorites_only_and_unfavoriting_removes_the_row(qtbot, model, proxy) -> None:
    model.apply_favorites({rec(1).id, rec(3).id}, {})
    proxy.set_favorites_only(True)
    assert proxy.favorites_only()
    assert shown(proxy) == [rec(3).id, rec(1).id]
    with qtbot.waitSignal(proxy.rowsRemoved):
        assert proxy.setData(proxy.index(0, 0), False, ImageRole.IS_FAVORITE)
    assert shown(proxy) == [rec(1).id]
    model.set_favorite_state(rec(4).id, True)  # e.g. the web studio hearted it
    assert shown(proxy) == [rec(4).id, rec(1).id]
    proxy.set_favorites_only(False)
    assert len(shown(proxy)) == 4


def test_search_is_case_insensitive_and_needs_every_word(proxy: GalleryProxy) -> None:
    proxy.set_search_text("kitchen")
    assert shown(proxy) == [rec(4).id, rec(1).id]
    proxy.set_search_text("  Kitchen   COFFEE ")
    assert shown(proxy) == [rec(1).id]
    assert proxy.search_text() == "kitchen coffee"
    proxy.set_search_text("mornings")  # topic
    assert shown(proxy) == [rec(1).id]
    proxy.set_search_text("GPT-4O")  # model
    assert shown(proxy) == [rec(2).id]
    proxy.set_search_text("own a task")  # slide text
    assert shown(proxy) == [rec(3).id]
    proxy.set_search_text("flux")  # the image model, as the viewer shows it
    assert shown(proxy) == [rec(3).id]
    proxy.set_search_text("editorial")  # the style preset
    assert shown(proxy) == [rec(3).id]
    proxy.set_search_text(rec(2).run_id.lower())  # run id
    assert shown(proxy) == [rec(2).id]
    proxy.set_search_text("kitchen zebra")
    assert shown(proxy) == []
    proxy.set_search_text("")
    assert len(shown(proxy)) == 4


def test_search_ignores_accents_both_ways(model, proxy) -> None:
    full_width_and_ligature = "\uff26\uff55\uff4c\uff4c width \ufb01le"
    model.insert_images([rec(5, prompt="Café au lait 🙂"), rec(6, prompt="cafe NOIR"),
                         rec(7, prompt=full_width_and_ligature)])
    proxy.set_search_text("cafe")
    assert shown(proxy) == [rec(6).id, rec(5).id]
    proxy.set_search_text("CAFÉ")
    assert shown(proxy) == [rec(6).id, rec(5).id]
    proxy.set_search_text("noír")
    assert shown(proxy) == [rec(6).id]
    proxy.set_search_text("full file")
    assert shown(proxy) == [rec(7).id]


@pytest.mark.parametrize(("text", "query"), [
    ("nai\u0308ve art", "naive"),  # written decomposed: "i" + combining diaeresis
    ("\u0130stanbul at night", "istanbul"),  # "İ" folds to "i" + combining dot above
    ("\U0001d401\U0001d41e\U0001d42c\U0001d42d coffee", "best"),  # math bold "fancy text"
    ("\u210dotel lobby", "hotel"),  # double-struck capital H
    ("Caf\u00e9 au lait", "cafe\u0301"),  # the query decomposed
])
def test_search_finds_what_only_its_accents_or_forms_set_apart(
        model: GalleryModel, proxy: GalleryProxy, text: str, query: str) -> None:
    model.insert_images([rec(5, prompt=text)])
    proxy.set_search_text(query)
    assert shown(proxy) == [rec(5).id]


def test_search_and_favorites_combine(model, proxy) -> None:
    model.apply_favorites({rec(1).id}, {})
    proxy.set_favorites_only(True)
    proxy.set_search_text("kitchen")
    assert shown(proxy) == [rec(1).id]


def test_sort_modes(qtbot, model, proxy) -> None:
    proxy.set_sort_mode(SortMode.OLDEST)
    assert shown(proxy) == [rec(1).id, rec(2).id, rec(3).id, rec(4).id]
    model.apply_favorites(set(), {rec(2).id: 5, rec(3).id: 5, rec(1).id: 1})
    proxy.set_sort_mode(SortMode.MOST_USED)
    assert proxy.sort_mode() is SortMode.MOST_USED
    # Most used first; equal counts newest first.
    assert shown(proxy) == [rec(3).id, rec(2).id, rec(1).id, rec(4).id]
    model.set_usage_count(rec(4).id, 9)  # a use moves the row at once
    assert shown(proxy)[0] == rec(4).id
    proxy.set_sort_mode(SortMode.OLDEST)
    assert shown(proxy) == [rec(1).id, rec(2).id, rec(3).id, rec(4).id]
    proxy.set_sort_mode(SortMode.NEWEST)
    assert shown(proxy) == [rec(4).id, rec(3).id, rec(2).id, rec(1).id]
    proxy.set_sort_mode("oldest")
    assert proxy.sort_mode() is SortMode.OLDEST


def test_new_rows_land_in_order_in_every_mode(model, proxy) -> None:
    proxy.set_sort_mode(SortMode.OLDEST)
    model.insert_images([rec(0), rec(9), rec(2, 2)])
    ids = shown(proxy)
    assert ids[0] == rec(0).id and ids[-1] == rec(9).id
    assert ids.index(rec(2, 1).id) + 1 == ids.index(rec(2, 2).id)
    model.remove_images([rec(9).id])
    assert rec(9).id not in shown(proxy)


def test_works_over_any_model_with_the_roles(qtbot) -> None:
    """The generic path (roles instead of the model's shortcuts) filters the same way."""
    class Plain(QStringListModel):
        def data(self, index, role=0):
            if role == ImageRole.IS_FAVORITE:
                return index.row() == 1
            if role == ImageRole.SEARCH_TEXT:
                return super().data(index).casefold()
            if role == ImageRole.USAGE_COUNT:
                return index.row()
            return super().data(index, role)

    source = Plain(["Red kitchen", "blue kitchen", "green hall"])
    proxy = GalleryProxy()
    proxy.setSourceModel(source)
    proxy.set_search_text("KITCHEN")
    assert proxy.rowCount() == 2
    proxy.set_favorites_only(True)
    assert proxy.rowCount() == 1 and proxy.index(0, 0).data() == "blue kitchen"
    proxy.set_favorites_only(False)
    proxy.set_search_text("")
    proxy.set_sort_mode(SortMode.MOST_USED)
    assert [proxy.index(r, 0).data() for r in range(3)] == ["green hall", "blue kitchen",
                                                            "Red kitchen"]



def test_selection_follows_its_row_across_orders_and_moves(qtbot, model, proxy) -> None:
    selection = QItemSelectionModel(proxy)
    target = proxy.index(shown(proxy).index(rec(2).id), 0)
    selection.setCurrentIndex(target, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    proxy.set_sort_mode(SortMode.OLDEST)
    assert selection.currentIndex().data(ImageRole.IMAGE_ID) == rec(2).id
    assert selection.currentIndex().row() == 1
    proxy.set_sort_mode(SortMode.MOST_USED)
    model.set_usage_count(rec(2).id, 3)  # a use moves it to the top
    assert shown(proxy)[0] == rec(2).id
    assert selection.currentIndex().row() == 0
    assert [i.data(ImageRole.IMAGE_ID) for i in selection.selectedIndexes()] == [rec(2).id]
    model.apply_favorites({rec(2).id}, {rec(2).id: 3})
    # The favorites-only switch resets the proxy (the window puts its current item back,
    # see test_main_window); the image stays in view and maps to and from its model row.
    row = model.index_of(rec(2).id)
    for on in (True, False):
        proxy.set_favorites_only(on)
        there = proxy.map_from_model(row)
        assert there.data(ImageRole.IMAGE_ID) == rec(2).id
        assert proxy.map_to_model(there) == row
    assert shown(proxy)[0] == rec(2).id


def test_rows_arriving_after_a_filter_change_are_filtered_too(model, proxy) -> None:
    proxy.set_search_text("kitchen")
    model.insert_images([rec(7, prompt="kitchen garden"), rec(8, prompt="hallway")])
    assert shown(proxy) == [rec(7).id, rec(4).id, rec(1).id]
    model.apply_favorites({rec(8).id, rec(7).id}, {})
    proxy.set_favorites_only(True)
    assert shown(proxy) == [rec(7).id]


def test_the_favorites_only_switch_calls_no_python_filter_per_row(monkeypatch) -> None:
    calls = [0]
    real = _FilterProxy.filterAcceptsRow

    def counted(self: _FilterProxy, source_row: int, source_parent: object) -> bool:
        calls[0] += 1
        return real(self, source_row, source_parent)  # type: ignore[arg-type]

    monkeypatch.setattr(_FilterProxy, "filterAcceptsRow", counted)
    model = GalleryModel()
    model.insert_images([rec(i, prompt="kitchen" if i % 3 else "hall")
                         for i in range(1, 2001)])
    model.apply_favorites({rec(i).id for i in range(1, 2001, 7)}, {})
    proxy = GalleryProxy()
    proxy.setSourceModel(model)
    proxy.set_search_text("kitchen")
    assert proxy.rowCount() > 0
    assert calls[0] >= 2000  # a search re-filters the shown rows in Python
    proxy.set_favorites_only(True)  # the favorites proxy takes the search now, once
    assert proxy.rowCount() > 0
    proxy.set_favorites_only(False)
    calls[0] = 0
    for on in (True, False, True):
        proxy.set_favorites_only(on)
        expected = [r for r in range(2000)
                    if model.accepts(r, on, ("kitchen",))]
        assert [proxy.map_to_model(proxy.index(r, 0)).row()
                for r in range(proxy.rowCount())] == expected
    assert calls[0] == 0
