"""Qt-free core: records, run parsing, favorites store, thumbnails, index and watcher."""
