"""MathNAS, the method under test: block profiling, the Eq. 5 predictor and ILP search."""
