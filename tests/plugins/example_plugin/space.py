"""A four-block chain, three choices per block, with closed-form accuracy: the smallest useful space."""
import numpy as np

from core.codes import check_codes, lexicographic_rank, product_codes
from core.errors import HarnessError
from core.protocols import BlockCosts, Task

CHOICES = ("small", "medium", "large")


class Chain4:
    name = "chain4"
    num_choices = (3, 3, 3, 3)
    choice_names = (CHOICES,) * 4
    skip_from = None
    tasks = {"toy": Task("toy", "accuracy", "%", note="closed form")}
    source = "tests/plugins/example_plugin/space.py"
    num_nodes = 4

    def __init__(self):
        self._codes = product_codes(self.num_choices)
        self.size = len(self._codes)

    def enumerate(self):
        return self._codes

    def index(self, codes):
        return lexicographic_rank(check_codes(codes, self.num_choices, "chain4"), self.num_choices)

    def encode(self, arch: str):
        names = arch.split("-")
        if len(names) != 4 or any(n not in CHOICES for n in names):
            raise HarnessError(f"chain4 arch {arch[:60]!r}: expected four of {', '.join(CHOICES)} joined by '-'")
        return np.array([CHOICES.index(n) for n in names])

    def decode(self, code):
        return "-".join(CHOICES[int(c)] for c in check_codes(code, self.num_choices, "chain4")[0])

    def sample(self, k, seed):
        return np.random.default_rng(seed).integers(0, 3, size=(int(k), 4))

    def block_costs(self, dataset):
        flops = tuple(np.array([1e6, 4e6, 9e6]) * (i + 1) for i in range(4))
        params = tuple(f / 100 for f in flops)
        return BlockCosts(flops, 2e6, params, 2e4)

    def accuracy(self, dataset, split="test"):
        c = self._codes
        return 60 + 5 * np.sqrt(c).sum(axis=1) - 0.5 * (c[:, 0] * c[:, 3])


def load(sources=None):
    return Chain4()
