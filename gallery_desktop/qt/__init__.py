"""Qt layer: thin PySide6 models, views and workers over the Qt-free core."""
