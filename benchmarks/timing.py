"""Timing shared by the benchmarks: every contender timed in every round, best round kept."""

import math
import time


def timed_rounds(contenders, args, repeats, inner=1):
    """Best wall time per call of each contender; all contenders are timed in each round.

    ``inner`` > 1 times that many calls in a row per round (their mean): the cost of a call
    repeated on the same data, caches warm, as in an optimization loop. With ``inner`` = 1 each
    call follows the other contenders', which may have pushed its data out of the caches."""
    best = {name: math.inf for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn(*args)
            best[name] = min(best[name], (time.perf_counter() - start) / inner)
    return best
