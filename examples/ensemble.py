"""An ensemble of walking robots trained at once, on a Dask cluster.

``robot.py``'s robot, trained from many random first controllers (one per seed), each training a
task on a Dask worker: srcad's gradient functions travel to the workers like any Python function,
and each worker loads the compiled gradient from srcad's on-disk cache (``SRCAD_CACHE_DIR``, one
per machine) instead of compiling it again: the first gradient on a worker takes a fraction of
the compile. The ensemble runs twice, on one worker and on two, and the speed-up is printed; the
best controller's walk is drawn.

Run:  python examples/ensemble.py [--robots 16] [--steps 1000] [--iters 60] [--out out] [--check]
      python examples/ensemble.py --scheduler tcp://host:8786     (a running cluster's scheduler)

Without ``--scheduler`` it starts a ``dask.distributed.LocalCluster`` of one, then two worker
processes (one thread each). On a cluster of your own, the example sends its two modules
(``robot.py``, ``example_tools.py``) to the workers (``Client.upload_file``); srcad and its
dependencies must be installed there. (srcad's cache keys name the function's file, as its error
messages do: uploaded to another folder, the module compiles once per worker.)
"""

import logging
import os
import sys
import time

import numpy as np

import robot
from example_tools import GradientTimer, arguments, check_gradient, plot_loss, summary

HERE = os.path.dirname(os.path.abspath(__file__))


def train_one(seed, steps, iters, rate):
    """One robot's training on a worker: (seed, its losses)."""
    import robot  # (on a worker: found where ``prepare`` said)

    weights, bias = robot.first_controller(seed)
    return seed, robot.train(weights, bias, steps, iters, rate)[0]


def first_gradient(steps):
    """Run on each worker before the ensemble: (the seconds its first gradient takes, the files it
    added to srcad's on-disk cache: none where it found the generated and compiled code there)."""
    import robot
    from srcad.kernels.cpu import cache_directory

    before = set(os.listdir(cache_directory()))
    start = time.perf_counter()
    robot.train(*robot.first_controller(0), steps, 0, 0.0)
    return time.perf_counter() - start, len(set(os.listdir(cache_directory())) - before)


def prepare(client, local):
    """Make ``robot`` importable on the workers: from this folder on this machine (the same file, so
    srcad's cache keys, which name the file, match), else uploaded (each worker then compiles once)."""
    if local:
        client.run(sys.path.insert, 0, HERE)
        return
    for name in ("example_tools.py", "robot.py"):
        client.upload_file(os.path.join(HERE, name))


def run_ensemble(client, seeds, steps, iters, rate):
    """Every seed's training as a task; (results by seed, wall seconds)."""
    start = time.perf_counter()
    futures = [client.submit(train_one, seed, steps, iters, rate, pure=False) for seed in seeds]
    results = client.gather(futures)
    return results, time.perf_counter() - start


def clients(options):
    """(label, client) for each run: the given scheduler once, or local clusters of 1 and 2 workers."""
    from dask.distributed import Client, LocalCluster

    if options.scheduler:
        client = Client(options.scheduler)
        yield f"cluster at {options.scheduler}", client
        client.close()
        return
    for workers in (1, 2):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)  # (not the workers' comings and goings)
        client = Client(cluster)
        yield f"{workers} local worker{'s' if workers > 1 else ''}", client
        client.close()
        cluster.close()


def main():
    options = arguments(__doc__.splitlines()[0], steps=1000, iters=60, rate=(0.05, "Adam's learning rate"),
                        robots=(16, "robots in the ensemble (one seed each)"), scheduler=("", "a Dask scheduler's address"))
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        raise SystemExit('this example needs Dask: pip install "srcad[examples]"')
    if options.check:
        weights, bias = robot.first_controller(0)
        check_gradient(robot.walk, weights, bias, robot.MASSES, robot.SPRINGS, robot.REST, robot.PHASES,
                       min(options.steps, 200), wrt=(0, 1))
    start = time.perf_counter()  # compile here first: the workers will load it from the cache
    robot.train(*robot.first_controller(0), options.steps, 0, options.rate)
    compile_seconds = time.perf_counter() - start
    print(f"first gradient here (transform and compile, or the cache): {compile_seconds:.2f} s")
    seeds = list(range(options.robots))
    timings = {}
    for label, client in clients(options):
        prepare(client, local=not options.scheduler)
        first_calls = list(client.run(first_gradient, options.steps).values())
        results, seconds = run_ensemble(client, seeds, options.steps, options.iters, options.rate)
        timings[label] = seconds
        print(f"{label}: {len(seeds)} robots x {options.iters} iterations in {seconds:.2f} s; a worker's first "
              f"gradient {max(t for t, _ in first_calls):.2f} s ({compile_seconds:.2f} s here), "
              f"{sum(n for _, n in first_calls)} files added to srcad's cache by the workers")
    if len(timings) == 2:
        one, two = timings.values()
        print(f"speed-up from 1 to 2 workers: {one / two:.2f}x")
    losses = dict(results)
    best = min(losses, key=lambda s: losses[s][-1])
    distances = np.array([-losses[s][-1] for s in seeds])
    print(f"walked after training: best {distances.max():.3f} m (seed {best}), median {np.median(distances):.3f} m, "
          f"worst {distances.min():.3f} m")
    plot_loss(losses[best], options.out, "ensemble_best", log=False)
    weights, bias = robot.first_controller(best)
    before = robot.trajectory(weights, bias, options.steps)
    robot.train(weights, bias, options.steps, options.iters, options.rate)
    robot.draw(before, robot.trajectory(weights, bias, options.steps), options.out)
    timer = GradientTimer()
    timer.times = [seconds / (len(seeds) * (options.iters + 1))]
    summary("ensemble (best robot)", losses[best], timer, goal=f"walked {distances.max():.3f} m to the right")


if __name__ == "__main__":
    main()
