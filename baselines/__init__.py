"""Baselines run through the same oracle as MathNAS: BRP-NAS, LANA, random search, regularized evolution."""
