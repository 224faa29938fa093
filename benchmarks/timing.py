"""Timing shared by the benchmarks: every contender timed in every round, best round kept."""

import math
import time


def timed_rounds(contenders, args, repeats):
    """Best wall time per contender; all contenders are timed in each round."""
    best = {name: math.inf for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn(*args)
            best[name] = min(best[name], time.perf_counter() - start)
    return best
