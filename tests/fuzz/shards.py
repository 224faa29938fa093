"""Random-program tests split into several pytest items, so pytest-xdist runs them on all cores.

One hypothesis test of all the programs is one item: one core compiles them all (200 programs
took nine minutes on CI's two cores) while the rest of the suite finishes on the other.
`sharded` runs a share of the examples per item instead. In the fixed draw CI gates on (the
test-wide profile is derandomized, tests/conftest.py), every shard takes its own seed;
hypothesis' derandomized seed comes from the test function, the same for every shard, so all
would draw the same programs. Under HYPOTHESIS_PROFILE=explore or long the draws are random as before.
"""

from hypothesis import HealthCheck, given, seed, settings

SHARDS = 4
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


def sharded(shard, strategy, examples, phases, check):
    """Run ``check`` on shard ``shard``'s share of ``examples`` draws from ``strategy``."""
    share = examples // SHARDS + (1 if shard < examples % SHARDS else 0)
    if share == 0:
        return

    @settings(max_examples=share, deadline=None, phases=phases, suppress_health_check=SUPPRESSED)
    @given(strategy)
    def run(program):
        check(program)

    if settings.default.derandomize:
        run = seed(shard)(run)
    run()
