"""Checkpointed time loops (``transforms/reverse/checkpoints.py``): an outermost loop whose tape
would not fit in the memory budget runs in segments, each segment's forward sweep again in the
reverse sweep.

The oracles: the gradient that keeps every iteration's tape (``checkpoint=None``), which runs the
same operations in the same order, so the two agree bit for bit; and central differences for
long loops. A budget of 0 bytes (``SRCAD_MEMORY_BUDGET=0``) checkpoints every loop that keeps
anything; ``checkpoint=k`` keeps at most k states.
"""

import inspect
import math

import numpy as np
import pytest

import srcad
from srcad import checkpointing
from srcad.kernels.runtime import segment_length

if __package__:
    from .. import array_programs, oracles, vectorized_programs
else:
    import array_programs
    import oracles
    import vectorized_programs


def gradients(function, args, wrt, option):
    """srcad's gradient of a fresh ``@srcad.differentiable(checkpoint=option)`` of ``function``."""
    copied = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    result = srcad.grad(srcad.differentiable(function, checkpoint=option), wrt=wrt)(*copied)
    return [np.asarray(g) for g in (result if isinstance(result, tuple) else (result,))]


def assert_bit_for_bit(stored, checkpointed):
    for a, b in zip(stored, checkpointed, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=True), (a, b)


def is_checkpointed(function, args, wrt, option="auto"):
    text = srcad.source(srcad.differentiable(function, checkpoint=option), "adjoint", args=args, wrt=wrt)
    return "checkpointed:" in text


# -- the corpora, with every loop that keeps anything checkpointed --------------------------------
def _corpus():
    """The array corpora's programs with an outermost loop (the scalar corpus's loops are the
    random scalar programs' kind: see tests/fuzz/test_random_checkpoints.py)."""
    cases = []
    for program in array_programs.PROGRAMS + vectorized_programs.PROGRAMS:
        if "\n    for " in inspect.getsource(program.function):
            cases.append(pytest.param(program.function, program.make, program.wrt, id=program.name))
    return cases


@pytest.mark.parametrize("function, make, wrt", _corpus())
def test_corpus_gradients_are_the_same_checkpointed(function, make, wrt, monkeypatch):
    try:
        args = tuple(make(np.random.default_rng(0)))
    except TypeError:
        args = tuple(make())
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "0")
    if not is_checkpointed(function, args, wrt):
        pytest.skip("no loop of this program keeps anything on the tape")
    stored = gradients(function, args, wrt, None)
    assert_bit_for_bit(stored, gradients(function, args, wrt, "auto"))


# -- long loops, against central differences ------------------------------------------------------
def pendulum_chain(theta0, omega0, damping, steps):
    theta = theta0.copy()
    omega = omega0.copy()
    dt = 0.01
    for step in range(steps):
        coupling = np.zeros_like(theta)
        coupling[1:] += theta[:-1] - theta[1:]
        coupling[:-1] += theta[1:] - theta[:-1]
        omega = omega + dt * (-np.sin(theta) + 0.5 * coupling - damping * omega)
        theta = theta + dt * omega
    return np.sum(theta * theta) + 0.1 * np.sum(omega)


def test_long_loop_matches_central_differences():
    rng = np.random.default_rng(3)
    theta0, omega0 = rng.uniform(-1, 1, 6), rng.uniform(-1, 1, 6)
    args = (theta0, omega0, 0.3, 3000)
    checkpointed = gradients(pendulum_chain, args, (0, 1, 2), 4)
    assert_bit_for_bit(gradients(pendulum_chain, args, (0, 1, 2), None), checkpointed)
    damping_fd = oracles.central_difference(lambda d: pendulum_chain(theta0, omega0, d, 3000), (0.3,), 0)
    assert checkpointed[2] == pytest.approx(damping_fd, rel=1e-6, abs=1e-8)
    for k in range(6):
        def along(x, k=k):
            shifted = theta0.copy()
            shifted[k] = x
            return pendulum_chain(shifted, omega0, 0.3, 3000)
        assert checkpointed[0][k] == pytest.approx(oracles.central_difference(along, (theta0[k],), 0), rel=1e-6, abs=1e-8)


# -- what a loop's state may be -----------------------------------------------------------------
def written_in_place(x, k, steps):
    # the argument x is written in place (kept as a copy, put back into the same memory)
    total = 0.0
    for t in range(steps):
        x[1:] = x[1:] + k * x[:-1] * x[1:]
        total += np.sum(x)
    return total


def rebound_and_written(x, k, steps):
    # y is bound again and written in place in every iteration (kept as a copy, bound to it)
    y = x.copy()
    for t in range(steps):
        y = y * k
        y[0] = math.sin(y[0]) + 0.5
    return np.sum(y * y)


def strided_range(a, b, n):
    # a loop from 2 to n in steps of 3, with branches and an integer in its state
    s = a
    count = 0
    for i in range(2, n, 3):
        if count % 2 == 0:
            s = s * b + math.sin(s)
        else:
            s = s - 0.1 * s * s
        count += 1
    return s * count


def nested(a, x, n):
    # only the outer loop is checkpointed; the inner one runs inside its segments
    acc = 0.0
    for t in range(n):
        for j in range(x.shape[0]):
            acc = acc * 0.9 + math.tanh(a * x[j] + acc)
    return acc


def state_of_scalars(x0, v0, k, steps):
    x, v = x0, v0
    for t in range(steps):
        a = -k * x * x * x - 0.1 * v
        v = v + 0.01 * a
        x = x + 0.01 * v
    return x * x + v


STATES = [
    pytest.param(written_in_place, lambda: (np.linspace(0.1, 0.5, 7), 0.3, 23), (0, 1), id="argument written in place"),
    pytest.param(rebound_and_written, lambda: (np.linspace(0.1, 0.5, 7), 0.9, 23), (0, 1), id="rebound and written"),
    pytest.param(strided_range, lambda: (0.4, 0.8, 40), (0, 1), id="strided range and branches"),
    pytest.param(nested, lambda: (0.5, np.linspace(-1, 1, 5), 17), (0, 1), id="nested loops"),
    pytest.param(state_of_scalars, lambda: (1.0, 0.0, 2.0, 31), (0, 1, 2), id="scalars"),
]


@pytest.mark.parametrize("function, make, wrt", STATES)
@pytest.mark.parametrize("option", ["auto", 2])
def test_states_are_kept_and_put_back(function, make, wrt, option, monkeypatch):
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "0")
    args = make()
    assert is_checkpointed(function, args, wrt, 3)
    checkpointed = gradients(function, args, wrt, option)
    assert_bit_for_bit(gradients(function, args, wrt, None), checkpointed)
    for position in wrt:  # and both are right: central differences, element by element
        assert checkpointed[wrt.index(position)] == pytest.approx(central_differences(function, args, position),
                                                                  rel=1e-6, abs=1e-9)


def central_differences(function, args, position):
    """d function / d args[position] (a float or an array), element by element, on copies."""
    def at(value):
        return function(*[value if k == position else (a.copy() if isinstance(a, np.ndarray) else a)
                          for k, a in enumerate(args)])

    target = args[position]
    if not isinstance(target, np.ndarray):
        return oracles.central_difference(at, (target,), 0)
    gradient = np.zeros(target.shape)
    for element in np.ndindex(target.shape):
        def along(t, element=element):
            moved = target.copy()
            moved[element] = t
            return at(moved)
        gradient[element] = oracles.central_difference(along, (float(target[element]),), 0)
    return gradient


def test_arguments_end_as_the_function_leaves_them(monkeypatch):
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "0")
    x = np.linspace(0.1, 0.5, 7)
    expected = x.copy()
    written_in_place(expected, 0.3, 23)
    srcad.grad(srcad.differentiable(written_in_place, checkpoint=2), wrt=(0, 1))(x, 0.3, 23)
    np.testing.assert_array_equal(x, expected)


def _past_the_budget(function):
    """The ``CheckpointedPastBudget`` adjoints srcad made of ``function`` (see ``srcad.compiled``)."""
    from srcad.compiled import CheckpointedPastBudget
    from srcad.specialize import specializer_of

    return [c for c in specializer_of(function).compiled.values() if isinstance(c, CheckpointedPastBudget)]


def test_the_gradient_runs_checkpointed_from_the_first_call_past_the_budget(monkeypatch):
    # by default the adjoint keeps every iteration and compiles without the segments' code; past
    # the budget it raises TapeOverBudget after one iteration, and the checkpointed adjoint runs
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "20kB")
    rng = np.random.default_rng(5)
    theta0, omega0 = rng.uniform(-1, 1, 6), rng.uniform(-1, 1, 6)
    kept = gradients(pendulum_chain, (theta0, omega0, 0.3, 40), (0, 1, 2), None)
    long = gradients(pendulum_chain, (theta0, omega0, 0.3, 2000), (0, 1, 2), None)
    function = srcad.differentiable(pendulum_chain)

    def gradient(*args):
        return [np.asarray(g) for g in srcad.grad(function, wrt=(0, 1, 2))(*args)]

    assert_bit_for_bit(kept, gradient(theta0, omega0, 0.3, 40))
    [adjoint] = _past_the_budget(function)
    assert adjoint.checkpointed is None  # 40 steps fit
    assert_bit_for_bit(long, gradient(theta0, omega0, 0.3, 2000))
    assert adjoint.checkpointed is not None
    damping_fd = oracles.central_difference(lambda d: pendulum_chain(theta0, omega0, d, 2000), (0.3,), 0)
    assert long[2] == pytest.approx(damping_fd, rel=1e-6, abs=1e-8)
    assert_bit_for_bit(kept, gradient(theta0, omega0, 0.3, 40))  # (checkpointed, within the budget)


def test_a_function_writing_an_argument_never_escapes_the_budget(monkeypatch):
    # the checkpointed adjoint would run after the first one's writes: it runs from the start instead
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "1")  # (a budget of 0 checkpoints from the start anyway)
    function = srcad.differentiable(written_in_place)
    x = np.linspace(0.1, 0.5, 7)
    expected = x.copy()
    written_in_place(expected, 0.3, 23)
    srcad.grad(function, wrt=(0, 1))(x, 0.3, 23)
    np.testing.assert_array_equal(x, expected)
    assert not _past_the_budget(function)


def written_in_place_unread(x, y, s):
    # found by the random programs: the stored reverse sweep needs none of x's old values, so only
    # the checkpoints write x's memory back (into the caller's array) as the reverse sweep runs
    for j in range(9):
        x[2] /= 2.0 + np.cos(np.mean(x * s))
        x[1:] += 0.1 * np.cos(np.sum(y + s))
    return np.sum(x * x)


@pytest.mark.parametrize("option", [None, 2])
def test_an_argument_the_checkpoints_write_back_ends_as_the_function_leaves_it(option, monkeypatch):
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "0")
    x, y = np.array([0.19, 0.77, 0.13]), np.array([0.02, 0.56, 0.05])
    expected = x.copy()
    written_in_place_unread(expected, y, 0.61)
    srcad.grad(srcad.differentiable(written_in_place_unread, checkpoint=option), wrt=(0, 1, 2))(x, y, 0.61)
    np.testing.assert_array_equal(x, expected)


def looped_with_break(a, n):
    s = a
    for i in range(n):
        if s > 100.0:  # an early exit: the loop's trip count is known only as it runs
            break
        s = s * 0.9 + math.sin(s) * a
    return s


def test_a_loop_keeping_a_few_numbers_per_iteration_keeps_everything_by_default():
    assert not is_checkpointed(state_of_scalars, (1.0, 0.0, 2.0, 31), (0, 1, 2))  # two floats a step
    assert is_checkpointed(pendulum_chain, (np.ones(6), np.zeros(6), 0.3, 10), (0, 1, 2))  # arrays


def read_then_written_after(x, y, n):
    # the loop reads y and leaves it alone; the code after it writes y: segments run again in the
    # reverse sweep would read the new values, so this loop keeps everything
    s = 0.5
    for t in range(n):
        s = math.sin(s) + 0.1 * np.sum(np.sin(x * y + s))
    y[0] = 5.0 * s
    return s + np.sum(y * y)


def read_then_left_alone(x, y, n):
    s = 0.5
    for t in range(n):
        s = math.sin(s) + 0.1 * np.sum(np.sin(x * y + s))
    z = y.copy()
    z[0] = 5.0 * s
    return s + np.sum(z * z)


@pytest.mark.parametrize("function, checkpointed", [(read_then_written_after, False), (read_then_left_alone, True)])
def test_what_the_loop_reads_must_not_change_after_it(function, checkpointed, monkeypatch):
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "0")
    args = (np.linspace(0.1, 0.9, 5), np.linspace(1.0, 2.0, 5), 17)
    assert is_checkpointed(function, args, (0, 1), 2) == checkpointed
    assert_bit_for_bit(gradients(function, args, (0, 1), None), gradients(function, args, (0, 1), 2))


def test_loops_that_may_break_keep_everything(monkeypatch):
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "0")
    assert not is_checkpointed(looped_with_break, (0.3, 20), (0,))
    expected = oracles.central_difference(lambda a: looped_with_break(a, 20), (0.3,), 0)
    assert srcad.grad(looped_with_break)(0.3, 20) == pytest.approx(expected, rel=1e-6)


def test_the_adjoint_shows_the_segments():
    text = srcad.source(srcad.differentiable(state_of_scalars, checkpoint=3), "adjoint", args=(1.0, 0.0, 2.0, 31),
                        wrt=(0, 1, 2))
    assert "checkpointed:" in text and "segment_length(" in text and "x_kept.pop()" in text
    text = srcad.source(srcad.differentiable(state_of_scalars, checkpoint=None), "adjoint", args=(1.0, 0.0, 2.0, 31),
                        wrt=(0, 1, 2))
    assert "checkpointed" not in text


# -- the segment length, the option and the budget ------------------------------------------------
def test_segment_length():
    assert segment_length(1000, 100, 50, 10**6, 0) == 1000  # it all fits: one segment
    length = segment_length(10**6, 48_000, 2_000, 10**6, 0)  # the least memory: sqrt(n * state / step)
    assert length == int(math.sqrt(10**6 * 2_000 / 48_000))
    assert segment_length(1000, 100, 50, 0, 3) == 250  # three kept states: four segments
    assert segment_length(5, 100, 50, 0, 10) == 1
    assert segment_length(0, 100, 50, 0, 0) == 1


def test_options_are_checked():
    with pytest.raises(TypeError, match="checkpoint="):
        srcad.differentiable(state_of_scalars, checkpoint="sometimes")
    with pytest.raises(TypeError, match="checkpoint="):
        srcad.differentiable(state_of_scalars, checkpoint=0)


@pytest.mark.parametrize("text, expected", [("", 1 << 30), ("1000", 1000), ("512MB", 512 * 10**6), ("2GiB", 2 << 30),
                                            ("64m", 64 << 20), ("1.5gb", 1_500_000_000)])
def test_budget_from_the_environment(text, expected, monkeypatch):
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", text)
    assert checkpointing.memory_budget() == expected


def test_a_budget_that_is_not_a_size_is_refused(monkeypatch):
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "lots")
    with pytest.raises(ValueError, match="SRCAD_MEMORY_BUDGET"):
        checkpointing.memory_budget()


# -- srcad.memory_report: what the loops keep --------------------------------------------------------------
def test_memory_reports_what_a_loop_keeps(monkeypatch):
    monkeypatch.setenv("SRCAD_MEMORY_BUDGET", "0")
    report = srcad.memory_report(srcad.differentiable(state_of_scalars, checkpoint=3), 1.0, 0.0, 2.0, 31)
    (loop,) = report.loops
    lines, first = inspect.getsourcelines(state_of_scalars)
    assert loop.line == first + next(k for k, text in enumerate(lines) if "for t in range" in text)
    assert (loop.steps, loop.bytes_per_step, loop.state_bytes) == (31, 8, 16)  # x pushed per step; x and v kept
    assert loop.segment_length == 8  # 30 iterations after the first, in 4 segments: 3 kept states
    assert loop.checkpointed and loop.bytes_stored == 31 * 8
    assert loop.bytes_kept == 9 * 8 + 3 * 16  # the first iteration's and one segment's tape, 3 states
    assert loop.steps_run_again == 24 and report.recomputation == pytest.approx(24 / 31)
    assert "line %d: 31 iterations" % loop.line in str(report)


def test_memory_without_checkpoints_reports_every_iteration_kept():
    report = srcad.memory_report(srcad.differentiable(pendulum_chain, checkpoint=None), np.ones(6), np.zeros(6), 0.3, 100)
    (loop,) = report.loops
    assert loop.steps == 100 and not loop.checkpointed and loop.bytes_kept == loop.bytes_stored == 100 * loop.bytes_per_step
    assert report.recomputation == 0.0 and "every iteration kept" in str(report)


def test_memory_of_a_function_without_loops():
    report = srcad.memory_report(lambda_free, 2.0)
    assert report.loops == () and report.bytes_stored == 0 and "no outermost loop" in str(report)


def lambda_free(x):
    return math.sin(x) * x
