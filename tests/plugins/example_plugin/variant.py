"""Algorithm 1 around several seeded random networks, block values averaged over them."""


def multi(prof, contexts=4):
    nets = [prof.random_code() for _ in range(int(contexts))]
    sweeps = [prof.sweep(net) for net in nets]
    blocks = {m: tuple(sum(s[m][i] for s in sweeps) / len(sweeps) for i in range(prof.spec.num_nodes))
              for m in prof.metrics}
    ref_flops = len(nets) / sum(1.0 / prof.spec.flops(net)[0] for net in nets)  # harmonic mean
    return prof.tables(blocks, ref_flops=ref_flops, variant="multi")
