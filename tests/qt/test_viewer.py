"""ImageViewer: loads off the GUI thread, zooms, steps through the proxy order, syncs the heart."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QToolButton

from gallery_desktop.core.paths import OUTSIDE_REASON, real_root
from gallery_desktop.core.runs import scan_runs
from gallery_desktop.qt.image_canvas import ImageCanvas, ZoomMode
from gallery_desktop.qt.image_loader import ImageLoader, read_image
from gallery_desktop.qt.model import GalleryModel
from gallery_desktop.qt.proxy import GalleryProxy
from gallery_desktop.qt.roles import ImageRole
from gallery_desktop.qt.viewer import ImageViewer
from gallery_desktop.qt.viewer_details import ViewerDetails
from tests.factories import make_image, make_run

RUN_A = "2025-11-26T06-54-47-200Z"  # newer
RUN_B = "2025-11-20T09-00-00-000Z"


def post(run_id: str, i: int, name: str | None = None, **extra: object) -> dict[str, object]:
    return {"index": i, "text": f"Slide {i} of {run_id[:10]}", "imagePrompt": f"prompt {i}",
            "finalImageUrl": f"/data/runs/{run_id}/{name or f'slide-{i}.png'}", **extra}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Two runs: four real images (one large), one missing file, one unreadable file."""
    make_run(tmp_path, RUN_A, [post(RUN_A, 1), post(RUN_A, 2), post(RUN_A, 3, "big.png")],
             createdAt="2025-11-26T06:54:47.200Z", topic="Mornings",
             momConfig={"model": "gpt-4o", "aspectRatio": "4:5"})
    make_image(tmp_path / "runs" / RUN_A / "big.png", (1500, 1000), "#16a085")
    make_run(tmp_path, RUN_B, [post(RUN_B, 1), post(RUN_B, 2, "gone.png"),
                               post(RUN_B, 3, "broken.png")],
             createdAt="2025-11-20T09:00:00.000Z", images=False)
    make_image(tmp_path / "runs" / RUN_B / "slide-1.png", (300, 200), "#8e44ad")
    (tmp_path / "runs" / RUN_B / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return tmp_path


@pytest.fixture
def proxy(qtbot, data: Path) -> GalleryProxy:
    model = GalleryModel()
    model.insert_images(scan_runs(data).images)
    proxy = GalleryProxy()
    proxy.setSourceModel(model)
    assert proxy.rowCount() == 6
    return proxy


@pytest.fixture
def viewer(qtbot, proxy: GalleryProxy) -> ImageViewer:
    viewer = ImageViewer(proxy)
    viewer.resize(1100, 700)
    qtbot.addWidget(viewer)
    viewer.show()
    qtbot.waitExposed(viewer)
    viewer.activateWindow()
    qtbot.waitActive(viewer)  # its keys are window shortcuts
    return viewer


def gallery(proxy: GalleryProxy) -> GalleryModel:
    model = proxy.bottom_model()
    assert isinstance(model, GalleryModel)
    return model


def test_read_image_applies_limits_and_reports_failures(data: Path) -> None:
    image, reason = read_image(data / "runs" / RUN_A / "big.png")
    assert reason == "" and image.size().width() == 1500
    image, reason = read_image(data / "runs" / RUN_A / "big.png", allocation_limit_mb=1)
    assert image.isNull() and reason
    image, reason = read_image(data / "runs" / RUN_B / "broken.png")
    assert image.isNull() and reason


def test_only_files_inside_the_data_folder_are_read(qtbot, data: Path,
                                                     tmp_path_factory: pytest.TempPathFactory
                                                     ) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "outside.png"
    make_image(outside, size=(7, 5))
    run_dir = data / "runs" / RUN_A
    (run_dir / "out.png").symlink_to(outside)
    (run_dir / "in.png").symlink_to(run_dir / "big.png")
    root = real_root(data)
    assert read_image(run_dir / "out.png", root=root) == (QImage(), OUTSIDE_REASON)
    assert not read_image(run_dir / "in.png", root=root)[0].isNull()  # links may stay inside
    assert read_image(run_dir / "out.png")[0].size().width() == 7  # no folder: any file
    loader = ImageLoader()
    loader.set_root(data)
    with qtbot.waitSignal(loader.image_failed, timeout=10_000) as failed:
        loader.load(run_dir / "out.png")
    assert failed.args == [run_dir / "out.png", OUTSIDE_REASON]


def test_loader_drops_cancelled_requests(qtbot, data: Path) -> None:
    pool = QThreadPool()
    loader = ImageLoader(pool=pool)
    loaded: list[Path] = []
    loader.image_loaded.connect(lambda path, _image: loaded.append(path))
    first, second = data / "runs" / RUN_A / "big.png", data / "runs" / RUN_A / "slide-1.png"
    loader.load(first)
    with qtbot.waitSignal(loader.image_loaded, timeout=10000) as blocker:
        loader.load(second)  # replaces the first request
    assert blocker.args[0] == second
    assert pool.waitForDone(10000)
    QApplication.processEvents()  # delivers anything the workers emitted
    assert first not in loaded


def test_opens_on_the_row_and_loads_the_full_image(qtbot, viewer: ImageViewer,
                                                   proxy: GalleryProxy) -> None:
    with qtbot.waitSignal(viewer.current_changed) as blocker:
        viewer.open_row(2)
    assert blocker.args == [proxy.index(2, 0).data(ImageRole.IMAGE_ID)]
    qtbot.waitUntil(viewer.canvas().has_image, timeout=10000)
    assert viewer.image().size().width() == 1500
    assert viewer.findChild(ImageCanvas, "imageCanvas") is viewer.canvas()
    details = viewer.findChild(ViewerDetails, "viewerDetails")
    assert details is not None
    fields = details.fields()
    assert fields["Run"] == RUN_A and fields["Topic"] == "Mornings"
    assert fields["Model"] == "gpt-4o" and fields["Pixels"] == "1500 × 1000"  # noqa: RUF001


def test_fit_and_actual_size_keys(qtbot, viewer: ImageViewer) -> None:
    viewer.open_row(2)
    qtbot.waitUntil(viewer.canvas().has_image, timeout=10000)
    assert viewer.zoom_mode() is ZoomMode.FIT and viewer.canvas().scale() < 1.0
    qtbot.keyClick(viewer, Qt.Key.Key_1)
    assert viewer.zoom_mode() is ZoomMode.ACTUAL and viewer.canvas().scale() == 1.0
    qtbot.keyClick(viewer, Qt.Key.Key_F)
    assert viewer.zoom_mode() is ZoomMode.FIT and viewer.canvas().scale() < 1.0
    # A small image is enlarged to fit; at 100% it is shown pixel for pixel.
    viewer.open_row(3)
    qtbot.waitUntil(viewer.canvas().has_image, timeout=10000)
    assert viewer.image().width() == 300 and viewer.canvas().scale() > 1.0
    qtbot.mouseClick(viewer.findChild(QToolButton, "viewerActualSizeButton"),
                     Qt.MouseButton.LeftButton)
    assert viewer.zoom_mode() is ZoomMode.ACTUAL and viewer.canvas().scale() == 1.0


def test_arrows_step_through_the_proxy_order(qtbot, viewer: ImageViewer,
                                             proxy: GalleryProxy) -> None:
    viewer.open_row(0)
    order = [proxy.index(r, 0).data(ImageRole.IMAGE_ID) for r in range(proxy.rowCount())]
    seen = [viewer.current_image_id()]
    for _ in range(len(order)):  # the last press is one past the end: it stays there
        qtbot.keyClick(viewer, Qt.Key.Key_Right)
        seen.append(viewer.current_image_id())
    assert seen == [*order, order[-1]]
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.current_image_id() == order[-2]
    # A filtered order is followed too.
    proxy.set_search_text("mornings")
    filtered = [proxy.index(r, 0).data(ImageRole.IMAGE_ID) for r in range(proxy.rowCount())]
    assert 0 < len(filtered) < len(order)
    viewer.open_row(0)
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.current_image_id() == filtered[1]


def test_missing_and_unreadable_images_show_why(qtbot, viewer: ImageViewer,
                                                proxy: GalleryProxy) -> None:
    rows = {proxy.index(r, 0).data(ImageRole.IMAGE_ID): r for r in range(proxy.rowCount())}
    viewer.open_row(rows[f"img_{RUN_B}_slide-2"])
    path = proxy.index(rows[f"img_{RUN_B}_slide-2"], 0).data(ImageRole.RECORD).image_path
    qtbot.waitUntil(lambda: viewer.canvas().message() == f"Image missing\n{path}",
                    timeout=10000)
    viewer.open_row(rows[f"img_{RUN_B}_slide-3"])
    qtbot.waitUntil(lambda: viewer.canvas().message().startswith("Can't read"), timeout=10000)
    assert not viewer.canvas().has_image()


def test_heart_syncs_both_ways(qtbot, viewer: ImageViewer, proxy: GalleryProxy) -> None:
    model = gallery(proxy)
    viewer.open_row(1)
    image_id = viewer.current_image_id()
    assert image_id is not None
    button = viewer.findChild(QToolButton, "viewerFavoriteButton")
    assert button is not None and not button.isChecked()
    with qtbot.waitSignal(model.favorite_set_requested) as blocker:
        qtbot.keyClick(viewer, Qt.Key.Key_H)
    assert blocker.args == [image_id, True]
    assert model.is_favorite(image_id) and button.isChecked()
    # A change made elsewhere (the grid, the web studio) shows up in the open viewer.
    model.set_favorite_state(image_id, False)
    assert not button.isChecked()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert model.is_favorite(image_id) and button.isChecked()


def test_unhearted_image_stays_shown_in_favorites_only_and_arrows_continue(
        qtbot, viewer: ImageViewer, proxy: GalleryProxy) -> None:
    model = gallery(proxy)
    ids = [model.record(r).id for r in range(model.rowCount())]
    for image_id in ids[:4]:
        model.set_favorite_state(image_id, True)
    proxy.set_favorites_only(True)
    assert proxy.rowCount() == 4
    viewer.open_row(1)
    assert viewer.current_image_id() == ids[1]
    qtbot.keyClick(viewer, Qt.Key.Key_H)
    assert proxy.rowCount() == 3 and not model.is_favorite(ids[1])
    assert viewer.current_image_id() == ids[1] and viewer.current_row() == -1
    qtbot.keyClick(viewer, Qt.Key.Key_H)  # re-heart: back in the view, and found again
    assert model.is_favorite(ids[1]) and viewer.current_row() == 1
    qtbot.keyClick(viewer, Qt.Key.Key_H)
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.current_image_id() == ids[2]
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.current_image_id() == ids[0]


def test_copy_hands_over_the_decoded_image(qtbot, viewer: ImageViewer) -> None:
    viewer.open_row(0)
    qtbot.waitUntil(viewer.canvas().has_image, timeout=10000)
    with qtbot.waitSignal(viewer.copy_image_requested) as blocker:
        qtbot.keyClick(viewer, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    image_id, path, image = blocker.args
    assert image_id == viewer.current_image_id() and path.name == "slide-1.png"
    assert isinstance(image, QImage) and not image.isNull()


def test_escape_closes(qtbot, viewer: ImageViewer) -> None:
    viewer.open_row(0)
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert not viewer.isVisible()
