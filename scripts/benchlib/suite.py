"""The benchmark's parts as the parent process runs them: data, interleaved runs, figures."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib import datasets
from benchlib.machine import cores
from benchlib.runner import run_part
from benchlib.stats import Figure, Goal, median, ns_to_ms, percentile
from gallery_desktop.qt.controller import DEFAULT_EDGE, edge_for
from gallery_desktop.qt.settings import DEFAULT_THUMB_SIZE

log = logging.getLogger(__name__)

# The edge the app asks for at its default cell size on a 1x screen (the bench measures
# what users get by default), and the app's fallback edge as an extra, informational line.
APP_EDGE = edge_for(DEFAULT_THUMB_SIZE, 1.0)
EXTRA_EDGE = DEFAULT_EDGE


@dataclass(slots=True)
class Sizes:
    """How big each part's dataset is and how many times it is measured."""

    thumbs: int = 96
    source_edge: int = 1024
    edge: int = APP_EDGE
    extra_edge: int | None = EXTRA_EDGE  # None: measure ``edge`` only
    runs: int = 10_000
    posts: int = 3
    images: int = 100_000
    favorite_every: int = 100  # ~1% favorites in the grid
    steps: int = 200
    filter_cycles: int = 3
    toggles: int = 100
    small_entries: int = 10_000
    large_entries: int = 100_000
    small_writes: int = 200
    large_writes: int = 60
    repeat: int = 5
    drop_caches: bool = True

    @classmethod
    def quick(cls) -> Sizes:
        """Tiny sizes that exercise every code path in seconds (used by the test suite)."""
        return cls(thumbs=3, source_edge=512, edge=128, extra_edge=None, runs=60,
                   images=3_000, steps=20, filter_cycles=1, toggles=5, small_entries=200,
                   large_entries=2_000, small_writes=6, large_writes=4, repeat=1, drop_caches=False)


@dataclass(slots=True)
class Context:
    """What the parts share: sizes, the work folder and the notes for the report."""

    sizes: Sizes
    work: Path
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def _order(i: int) -> tuple[str, str]:
    # Floor first on even repeats, real first on odd ones: drift hits both alike.
    return ("floor", "real") if i % 2 == 0 else ("real", "floor")


def thumbnails(ctx: Context) -> list[Figure]:
    """Thumbnails per second, cold disk cache, PNG and JPEG, against the decode floor."""
    s = ctx.sizes
    src = ctx.work / "sources"
    png = datasets.make_source_images(src / "png", s.thumbs, "PNG", size=s.source_edge,
                                      seed=1000, workers=cores())
    jpeg = datasets.make_source_images(src / "jpeg", s.thumbs, "JPEG", size=s.source_edge,
                                       seed=2000, workers=cores())
    edges = [s.edge] + ([s.extra_edge] if s.extra_edge and s.extra_edge != s.edge else [])
    figures = []
    for edge in edges:
        main = edge == s.edge
        result = run_part("thumbs", {"png": [str(p) for p in png],
                                     "jpeg": [str(p) for p in jpeg], "edge": edge,
                                     "repeat": s.repeat,
                                     "cache_root": str(ctx.work / "thumbcache")}, timeout_s=1800)
        ctx.raw["thumbs" if main else f"thumbs_{edge}"] = result
        figures.extend(_thumb_figures(ctx, result, edge, main))
    return figures


def _thumb_figures(ctx: Context, result: dict[str, Any], edge: int,
                   main: bool) -> list[Figure]:
    """The PNG and JPEG figures of one thumbnail edge; only the app's edge has a target."""
    s = ctx.sizes
    which = (f"the app's default edge: {DEFAULT_THUMB_SIZE} px cells at dpr 1" if main
             else "informational, no target")
    figures = []
    for fmt in ("png", "jpeg"):
        part = result[fmt]
        rate = [part["count"] / (ns / 1e9) for ns in part["real_ns"]]
        floor = [part["count"] / (ns / 1e9) for ns in part["floor_ns"]]
        figures.append(Figure(
            key=f"thumbs_{fmt}_per_s" if main else f"thumbs_{fmt}_{edge}_per_s",
            label=f"thumbnails/s, {fmt.upper()} {s.source_edge}px -> {edge}px ({which}), "
                  "cold cache",
            unit="/s", value=median(rate), floor=median(floor),
            goal=Goal.MIN_RATIO if main else None, target=0.9 if main else None,
            samples=rate, floor_samples=floor,
            floor_label=f"thumbnails: Pillow decode only on the same files, {result['threads']} "
                        f"threads (JPEG via draft() to the {edge}px edge); no resample, "
                        "encode or cache"))
    tails = {fmt: median([ns_to_ms(t) for t in result[fmt]["tail_ns"]])
             for fmt in ("png", "jpeg")}
    ctx.notes.append(f"Thumbnails at {edge} px: ThumbnailLoader(ThumbnailCache(<empty "
                     f"folder>), edge={edge}) in an offscreen {result['app']}, every path "
                     "requested at once, timed until the last thumbnail_ready/thumbnail_failed "
                     "signal; a new loader and an empty cache folder for every pass; sources "
                     "in the OS page cache for both contenders. Cache entries are encoded and "
                     "written once the decode queue is empty; the pool and the cache writes "
                     f"were done a further {tails['png']:.0f} ms (PNG) / {tails['jpeg']:.0f} ms "
                     "(JPEG) after the last signal (median), not counted.")
    return figures


def scan(ctx: Context) -> list[Figure]:
    """scan_runs over ``runs`` runs: cold, warm, indexed; against read+json and stat loops."""
    s = ctx.sizes
    data = ctx.work / "scan-data"
    datasets.make_runs(data, s.runs, posts=s.posts)
    cold: dict[str, list[int]] = {"real": [], "floor": []}
    notes: set[str] = set()
    for i in range(s.repeat):
        for which in _order(i):
            res = run_part("scan_cold", {"data_dir": str(data), "drop": s.drop_caches,
                                         "which": "scan" if which == "real" else "floor"})
            cold[which].append(res["ns"])
            if res["cache_note"]:
                notes.add(res["cache_note"])
    warm = run_part("scan_warm", {"data_dir": str(data), "repeat": s.repeat})
    idx = run_part("scan_indexed", {"data_dir": str(data), "repeat": s.repeat,
                                    "cache_dir": str(ctx.work / "index-cache")})
    ctx.raw["scan"] = {"cold": cold, "warm": warm, "indexed": idx}
    runs = f"{s.runs:,} runs"
    with_load = [a + b for a, b in zip(idx["load_ns"], idx["scan_after_load_ns"], strict=True)]
    cold_label = f"scan {runs}, cold (fresh process, no index)"
    if notes:
        cold_label += " [page cache NOT dropped]"
        ctx.notes.extend(sorted(notes))
    else:
        ctx.notes.append("Cold scan: the page cache (and dentries, inodes) was dropped with "
                         "`echo 3 > /proc/sys/vm/drop_caches` in each fresh process, after its "
                         "imports and just before the timed pass, for the floor as well.")
    read_floor = "scan: list runs/, read and json.loads every meta.json (bare Python loop)"
    stat_floor = "indexed scan: list runs/, os.stat every meta.json (bare Python loop)"
    figures = [
        _ms("scan_cold_ms", cold_label, cold["real"], cold["floor"], read_floor, None, None),
        _ms("scan_warm_ms", f"scan {runs}, warm, no index", warm["scan_ns"], warm["floor_ns"],
            read_floor, Goal.MAX_RATIO, 1.2),
        _ms("scan_warm_orjson_ms", "  the same scan against the loop with orjson.loads "
            "(the app's parser; informational)", warm["scan_ns"], warm["orjson_floor_ns"],
            "scan (reference): the same loop with orjson.loads, the parser the app uses", None,
            None),
        _ms("scan_indexed_ms", f"scan {runs}, warm, index in memory", idx["scan_ns"],
            idx["floor_ns"], stat_floor, Goal.MAX_RATIO, 2.0),
        _ms("scan_index_load_ms", "  index load from disk (alone)", idx["load_ns"], None,
            "", None, None),
        _ms("scan_indexed_with_load_ms", f"scan {runs}, warm, index loaded from disk",
            with_load, idx["floor_ns"], stat_floor, Goal.MAX_RATIO, 2.0),
    ]
    if idx.get("unmarshal_ns"):
        figures.insert(-1, _ms("scan_index_unmarshal_ms",
                               "  index file read + marshal.loads alone (no records)",
                               idx["unmarshal_ns"], idx["floor_ns"], stat_floor, None, None))
    ctx.notes.append(f"Scan: scan_runs(data_dir) found {warm['images']:,} images in {runs}. "
                     "'index in memory' re-scans with the RunIndex the previous pass filled "
                     "(the periodic re-scan); 'index loaded from disk' is a warm start: a new "
                     "RunIndex loads the saved file, then the scan uses it (load included, since "
                     "an index may defer work from its load to its first use; saved index "
                     f"{idx['index_bytes'] / 1e6:.1f} MB). A run loaded from the index comes as "
                     "a RunRows: its ids and post orders, its search texts and records kept as "
                     "marshal bytes until asked for (the scanner reads the texts on its thread; "
                     "the grid builds a run's records when one of its rows is painted or asked "
                     "for). 'read + marshal.loads alone' is the "
                     "saved file read and its table (ids, orders, offsets) turned into plain "
                     "tuples and strings, nothing more.")
    figures.extend(_app_start(ctx, data, warm["images"]))
    return figures


def _app_start(ctx: Context, data: Path, images: int) -> list[Figure]:
    """The real window opening the scan's data folder: cold (empty cache folder), then warm
    (the run index the cold start saved), ``repeat`` times each."""
    s = ctx.sizes
    cold: list[dict[str, Any]] = []
    warm: list[dict[str, Any]] = []
    for i in range(s.repeat):
        cache = ctx.work / f"start-cache-{i}"
        cold.append(run_part("app_start", {"data_dir": str(data), "cache_dir": str(cache)}))
        warm.append(run_part("app_start", {"data_dir": str(data), "cache_dir": str(cache)}))
    ctx.raw["app_start"] = {"cold": cold, "warm": warm}
    for res in (*cold, *warm):
        if res["rows"] != images:
            raise RuntimeError(f"app start showed {res['rows']:,} rows, not {images:,}")
    label = f"app start, {s.runs:,} runs ({images:,} images): open -> scan finished"
    first = f"app start, {s.runs:,} runs ({images:,} images): open -> first cells painted"
    ctx.notes.append(
        "App start: the app's MainWindow (1280x800 offscreen, shown) opens the scan's data "
        "folder in a fresh process; timed from open_data_dir until the controller reports the "
        "scan finished (every row in the model, the run index saved), and until the grid's "
        "delegate painted its first cell. Cold: an empty cache "
        "folder; warm: the cache folder the cold start left. Rows with a built record at the "
        f"end (median): {median([r['built'] for r in cold]):,.0f} cold, "
        f"{median([r['built'] for r in warm]):,.0f} warm.")
    return [_ms("app_first_paint_cold_ms", f"{first}, cold", [r["first_ns"] for r in cold],
                None, "", None, None),
            _ms("app_first_paint_warm_ms", f"{first}, warm (run index)",
                [r["first_ns"] for r in warm], None, "", None, None),
            _ms("app_start_cold_ms", f"{label}, cold", [r["ns"] for r in cold], None, "",
                None, None),
            _ms("app_start_warm_ms", f"{label}, warm (run index)", [r["ns"] for r in warm],
                None, "", None, None)]


def _ms(key: str, label: str, samples: list[int], floor: list[int] | None, floor_label: str,
        goal: Goal | None, target: float | None, *, p99: bool = False) -> Figure:
    values = [ns_to_ms(v) for v in samples]
    floors = [ns_to_ms(v) for v in floor] if floor else []
    pick = (lambda xs: percentile(xs, 99)) if p99 else median
    return Figure(key=key, label=label, unit="ms", value=pick(values),
                  floor=pick(floors) if floors else None, floor_label=floor_label, goal=goal,
                  target=target, samples=values, floor_samples=floors)


def grid(ctx: Context) -> list[Figure]:
    """The real window with ``images`` records against the bare QListView floor."""
    s = ctx.sizes
    runs: dict[str, list[dict[str, Any]]] = {"real": [], "floor": []}
    for i in range(s.repeat):
        for which in _order(i):
            cfg = {"which": which, "images": s.images, "favorite_every": s.favorite_every,
                   "steps": s.steps, "filter_cycles": s.filter_cycles, "toggles": s.toggles,
                   "data_dir": str(ctx.work / f"grid-data-{which}-{i}"),
                   "cache_dir": str(ctx.work / f"grid-cache-{which}-{i}")}
            runs[which].append(run_part("grid", cfg, timeout_s=900))
    ctx.raw["grid"] = runs
    real, floor = runs["real"], runs["floor"]

    def per_run(name: str, rs: list[dict[str, Any]]) -> list[float]:
        return [ns_to_ms(r[name]) for r in rs]

    def pooled(name: str, rs: list[dict[str, Any]]) -> list[float]:
        return [ns_to_ms(v) for r in rs for v in r[name]]

    def p99s(name: str, rs: list[dict[str, Any]]) -> list[float]:
        return [percentile([ns_to_ms(v) for v in r[name]], 99) for r in rs]

    def mb(name: str, rs: list[dict[str, Any]]) -> list[float]:
        return [r[name] / 2**20 for r in rs]

    n = f"{s.images:,} images"
    bare = (f"grid: plain QListView (icon mode, uniform items) + minimal Python list model + "
            f"stock delegate + QSortFilterProxyModel, same {n}, own process")
    figs = [
        ("grid_fill_ms", f"grid {n}: fill the model", per_run("fill_ns", real),
         per_run("fill_ns", floor), None, None),
        ("grid_first_paint_ms", f"grid {n}: model filled -> first paint",
         per_run("first_paint_ns", real), per_run("first_paint_ns", floor), Goal.MAX_VALUE, 200),
        ("grid_layout_ms", f"grid {n}: model filled -> every row laid out",
         per_run("layout_done_ns", real), per_run("layout_done_ns", floor), None, None),
        ("grid_scroll_median_ms", f"grid {n}: scroll frame, median", pooled("scroll_ns", real),
         pooled("scroll_ns", floor), None, None),
        ("grid_scroll_p99_ms", f"grid {n}: scroll frame, p99", p99s("scroll_ns", real),
         p99s("scroll_ns", floor), Goal.MAX_VALUE, 8),
        ("grid_filter_on_ms", f"grid {n}: favorites-only on (to painted)",
         pooled("filter_on_ns", real), pooled("filter_on_ns", floor), Goal.MAX_VALUE, 80),
        ("grid_filter_off_ms", f"grid {n}: favorites-only off (to painted)",
         pooled("filter_off_ns", real), pooled("filter_off_ns", floor), Goal.MAX_VALUE, 80),
        ("heart_toggle_median_ms", "heart toggle: setData -> data() shows it, median",
         pooled("toggle_ns", real), pooled("toggle_ns", floor), Goal.MAX_VALUE, 1),
        ("heart_toggle_p99_ms", "heart toggle: setData -> data() shows it, p99",
         p99s("toggle_ns", real), p99s("toggle_ns", floor), Goal.MAX_VALUE, 1),
    ]
    out = [Figure(key=k, label=lab, unit="ms", value=median(v), floor=median(f),
                  floor_label=bare, goal=g, target=t, samples=v, floor_samples=f)
           for k, lab, v, f, g, t in figs]
    rss, rss_floor = mb("rss_after_fill", real), mb("rss_after_fill", floor)
    out.insert(7, Figure(key="grid_rss_mb", label=f"grid {n}: process RSS after fill",
                         unit="MB", value=median(rss), floor=median(rss_floor), floor_label=bare,
                         goal=Goal.MAX_VALUE, target=500, samples=rss, floor_samples=rss_floor))
    r0, f0 = real[0], floor[0]
    ctx.notes.append(
        "Grid: the app's MainWindow over a GalleryController, wired as gallery_desktop.app "
        "does, 1280x800 offscreen (viewport "
        f"{r0['viewport'][0]}x{r0['viewport'][1]}; the floor's window is sized to the same "
        f"viewport, {f0['viewport'][0]}x{f0['viewport'][1]}); hearts load from the data "
        f"folder's favorites file ({r0['favorite_rows']:,} of {r0['rows']:,} rows); the "
        "records go to GalleryModel.insert_runs in one batch, a RunRows per run with its "
        "records at hand, as the scanner's batches hand over runs it has just read, "
        "bypassing the scan (the controller's periodic safety-net re-scan is pushed past the "
        "measurement, since the records are not on disk). First paint: from the fill call's "
        "return until a viewport paint that drew cells has been handled. Scroll: "
        f"{s.steps} steps of a quarter viewport, QScrollBar.setValue + a forced synchronous "
        "viewport.repaint(), after the batched layout has placed every row. Filter: the "
        "favoritesOnlyAction toggled until the view has repainted. Toggle: setData("
        "isFavorite) on the view's model (the write then goes to the favorites file on a "
        "worker thread) until data() returns the new value; each toggle waits until the "
        "previous write has finished, as a person's clicks are further apart than a write. "
        "The records' image files do not exist, so no thumbnail is held in memory (cells "
        "show the broken-image placeholder). "
        f"Real process RSS (median): {median(mb('rss_baseline', real)):.0f} MB with Qt up, "
        f"{median(mb('rss_before_fill', real)):.0f} MB with the window and the records, "
        f"{median(rss):.0f} MB after the fill.")
    return out


def favorites_writes(ctx: Context) -> list[Figure]:
    """FavoritesStore writes on files of ``small_entries`` and ``large_entries`` ids."""
    s = ctx.sizes
    figures = []
    for size, entries, writes, target in (("small", s.small_entries, s.small_writes, 5),
                                          ("large", s.large_entries, s.large_writes, 40)):
        res = run_part("store_writes", {"work_dir": str(ctx.work / f"favorites-{size}"),
                                        "entries": entries, "writes": writes})
        ctx.raw[f"favorites_{size}"] = res
        label = f"heart write, {entries:,} entries ({res['file_bytes'] / 1e6:.1f} MB file)"
        floor = ("heart write: the store's current bytes, already serialised, written to a "
                 "sibling file: temp file, fsync, rename, fsync folder (no lock, no re-read)")
        figures.append(_ms(f"favorites_write_{size}_median_ms", f"{label}, median",
                           res["store_ns"], res["floor_ns"], floor, None, None))
        figures.append(_ms(f"favorites_write_{size}_p99_ms", f"{label}, p99", res["store_ns"],
                           res["floor_ns"], floor, Goal.MAX_VALUE, target, p99=True))
    first = {size: ns_to_ms(ctx.raw[f"favorites_{size}"].get("first_write_ns", 0))
             for size in ("small", "large")}
    ctx.notes.append(f"Heart writes: FavoritesStore.set_favorite alternately clearing and "
                     f"setting one existing id ({s.small_writes} and {s.large_writes} writes), "
                     "in a folder of the benchmark's temp dir, on the same disk as the data. "
                     "The first write after the store loads the file also renders its sections "
                     "(kept between writes) and is not among the samples: it took "
                     f"{first['small']:.1f} ms ({s.small_entries:,} entries) and "
                     f"{first['large']:.1f} ms ({s.large_entries:,} entries), once.")
    return figures
