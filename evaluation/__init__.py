"""Exact ground truth (optimum, Pareto front) and the scoring of one method on one problem."""
