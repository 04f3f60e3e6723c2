"""The ground floor of mathnas-bench: what every other package may import, and nothing above it.

errors      the one user-facing exception (one line on stderr, exit 2)
validation  checks of numbers, seeds, limits and names that every layer shares
codes       architecture codes: product enumeration, mixed-radix ranks, Eq. 9 depth validity
registry    plugin registries read from entry points (methods, variants, solvers, devices, spaces, commands)
protocols   the contracts of each plugin kind: Space, Task, BlockCosts, DeviceProfile, Predictor, Searcher,
            Variant, SolverBackend, Problem, SearchResult
sources     where ground truth lives (data folders, user device files)
truth       GroundTruth: every true metric of every architecture of one (space, dataset, device)
oracle      the only door through which a method sees ground truth; budgets and regimes enforced here
metrics     prediction and search metrics (scipy.stats)
files       crash-safe writes shared by the store, caches and reports
text        plain-text renderers shared by the CLI and the reports
"""
