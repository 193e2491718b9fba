"""Building blocks of scripts/bench.py: datasets, measured parts, floors and the report."""
