"""First-improvement hill climbing: from a random feasible network, move to the first better neighbour."""
import numpy as np

from core.protocols import MethodBase, SearchResult


class HillClimb(MethodBase):
    name = "hill"

    def __init__(self, seed: int = 0, restarts: int = 2, tries: int = 100):
        self.seed, self.restarts, self.tries = seed, restarts, tries

    def search(self, problem, oracle):
        rng = np.random.default_rng(self.seed)
        budget = oracle.remaining if oracle.remaining is not None else 50
        space, best, best_acc = oracle.space, None, -np.inf

        def feasible(code):
            return all((oracle.hardware(m, code[None]) if m in ("latency", "energy") else
                        getattr(oracle, m)(code[None]))[0] <= v for m, v in problem.limits.items())

        for _ in range(self.restarts):
            starts = [c for c in space.sample(self.tries, int(rng.integers(2**31))) if feasible(c)]
            if not starts or oracle.queries >= budget:
                continue
            code = starts[0]
            acc = oracle.accuracy(code[None])[0]
            improved = True
            while improved and oracle.queries < budget:
                improved = False
                for i in rng.permutation(space.num_nodes):
                    for j in rng.permutation(space.num_choices[i]):
                        nb = code.copy()
                        nb[i] = j
                        if oracle.queries >= budget or j == code[i] or not feasible(nb):
                            continue
                        a = oracle.accuracy(nb[None])[0]
                        if a > acc:
                            code, acc, improved = nb, a, True
                            break
                    if improved:
                        break
            if acc > best_acc:
                best, best_acc = code, acc
                oracle.incumbent(code)
        return SearchResult(best, {"accuracy": float(best_acc)} if best is not None else {})
