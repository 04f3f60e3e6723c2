"""MathNAS, the method under test: block profiling, the Eq. 5 predictor and ILP search.

blocks    SpaceSpec, evaluators, Profiler, BlockTables (the Eq. 5 predictor)
variants  profiling variants (single = Algorithm 1, full = Eq. 3, sampled) and their registry
ilp       the Eq. 6/9 ChoiceProblem, the default solver, the NAS-Bench-201 ILP family
method    MathNAS: fit / predict / search for the harness
claims    the paper's claims beside our measurements (`mathnas-bench claims`)
"""
