"""Core of mathnas-bench: data, oracle, exact ground truth, metrics, runner and CLI."""
