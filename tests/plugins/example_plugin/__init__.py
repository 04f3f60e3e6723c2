"""A third-party extension of mathnas-bench, outside the package tree: one file and one entry-point line
per plugin kind (see docs/architecture.md). The tests register it by putting this folder, with its
`.dist-info` (entry_points.txt), on the import path -- exactly what `pip install` of a distribution does."""
