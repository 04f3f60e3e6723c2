"""Analyses that combine a method or a solver with ground truth: the paper's claims, latency additivity,
and the ILP backend comparison (its instance families included)."""
