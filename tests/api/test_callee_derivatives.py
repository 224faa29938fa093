"""Calls through a callee's own derivatives (``srcad.callees``) instead of inlining its body.

A large helper (or one marked ``@srcad.differentiable(inline=False)``) is called from the caller's
adjoint through the helper's generated adjoint, and from its tangent through the helper's tangent.
Checked against central differences and closed forms; the choice itself is read from the source."""

import json
import math
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import srcad



def _along(function, h=1e-4):
    """d/dt function(t) at t = 0 by central differences, Richardson-extrapolated (values may be arrays)."""
    def quotient(step):
        return (np.asarray(function(step)) - np.asarray(function(-step))) / (2.0 * step)

    return (4.0 * quotient(h / 2.0) - quotient(h)) / 3.0


def _gradient_by_differences(function, x):
    return np.array([_along(lambda t: function(x + t * unit)) for unit in np.eye(x.size)])


def _close(got, expected, rtol=1e-7):
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)


@srcad.differentiable(inline=False)
def bump(x, w):
    return w * math.sin(x) + x * x * w


def layered(x, w):
    """Long enough (in normal form) to be called through its derivatives without being asked."""
    s = 0.0
    for k in range(3):
        s += math.sin(x * k) * w
    e = s * s + math.cos(w * x)
    for _ in range(4):
        a = e + 1.0
        b = a * a
        c = b - w
        d = c * x
        e = d / (1.0 + x * x)
    a = e * w
    b = a * a + x
    c = math.tanh(b) * a
    d = c + e * x
    for _ in range(2):
        a = d * 0.5 + math.exp(-x * x)
        b = math.log(1.0 + a * a)
        c = b * w - a / (2.0 + w * w)
        d = math.sqrt(1.0 + c * c) * math.atan(d)
    return d


def caller(x, w, n):
    s = 0.0
    for i in range(n):
        s += bump(x + i, w) + layered(x, w * i)
    return s * s


@srcad.differentiable(inline=False)
def smoothed(x, w):
    y = np.sin(x) * w
    return y * y + x


def array_caller(x, w):
    z = smoothed(x, w)
    return np.sum(smoothed(z, w * 2.0) * x)


layered_inlined = srcad.differentiable(inline=True)(layered)


def caller_of_inlined(x, w):
    return layered_inlined(x, w) * 2.0


@srcad.differentiable(inline=False)
def scale_in_place(x, k):
    for i in range(x.shape[0]):
        x[i] = x[i] * k
    return np.sum(x)


def caller_writing(x, k):
    y = x * 1.0
    s = scale_in_place(y, k)
    return s + np.sum(y * y)


@srcad.differentiable(inline=False)
def pair(x, w):
    return x * w, x + w


def caller_of_pair(x, w):
    a, b = pair(x, w)
    return a * b


@srcad.differentiable(inline=False)
def writes_through_ravel(x, s):
    y = x.ravel()
    y[0] = 2.0 * s
    return np.sum(y * x)


def caller_of_writes_through_ravel(x, s):
    return writes_through_ravel(x, s) * 2.0


def test_a_large_helper_is_called_through_its_derivatives_in_both_modes():
    adjoint = srcad.source(caller, "adjoint", args=(0.3, 0.7, 3))
    assert "srcad.callees.stub('" in adjoint and "'reverse'" in adjoint
    assert "layered_call2_adjoint(" in adjoint and "bump_call2_adjoint(" in adjoint
    assert "math.tanh" not in adjoint  # layered's body is not in the caller
    gradient = srcad.grad(caller, wrt=(0, 1))(0.3, 0.7, 3)
    _close(gradient[0], _along(lambda t: caller(0.3 + t, 0.7, 3)))
    _close(gradient[1], _along(lambda t: caller(0.3, 0.7 + t, 3)))
    tangent = srcad.source(caller, "tangent", args=(0.3, 0.7, 3))
    assert "layered_call2_tangent(" in tangent
    _, along = srcad.jvp(caller, (0.3, 0.7, 3), (1.0, -0.5, None))
    _close(along, _along(lambda t: caller(0.3 + t, 0.7 - 0.5 * t, 3)))


def test_an_array_helper_through_its_derivatives():
    x = np.linspace(0.1, 1.0, 5)
    gradient_x, gradient_w = srcad.grad(array_caller, wrt=(0, 1))(x, 0.4)
    _close(gradient_x, _gradient_by_differences(lambda v: array_caller(v, 0.4), x))
    _close(gradient_w, _along(lambda t: array_caller(x, 0.4 + t)))
    direction = np.array([1.0, -1.0, 0.5, 0.0, 2.0])
    _, along = srcad.jvp(array_caller, (x, 0.4), (direction, 0.3))
    _close(along, _along(lambda t: array_caller(x + t * direction, 0.4 + 0.3 * t)))


def test_inline_true_inlines_even_a_large_helper():
    adjoint = srcad.source(caller_of_inlined, "adjoint", args=(0.3, 0.7))
    assert "srcad.callees" not in adjoint and "simd_tanh(" in adjoint
    gradient = srcad.grad(caller_of_inlined)(0.3, 0.7)
    _close(gradient, _along(lambda t: caller_of_inlined(0.3 + t, 0.7)))


def test_calls_that_cannot_go_through_derivatives_are_inlined():
    """A helper writing its argument in place, or returning a tuple: inlined whatever it asks."""
    x = np.array([0.5, -1.0, 2.0])
    assert "srcad.callees" not in srcad.source(caller_writing, "adjoint", args=(x, 1.5))
    gradient_x, gradient_k = srcad.grad(caller_writing, wrt=(0, 1))(x, 1.5)
    _close(gradient_x, 1.5 + 2 * 1.5 ** 2 * x)  # d/dx of k*sum(x) + k^2 sum(x^2)
    _close(gradient_k, np.sum(x) + 2 * 1.5 * np.sum(x * x))
    assert "srcad.callees" not in srcad.source(caller_of_pair, "adjoint", args=(0.3, 0.7))
    gradient = srcad.grad(caller_of_pair, wrt=(0, 1))(0.3, 0.7)
    _close(gradient, (0.7 * (2 * 0.3 + 0.7), 0.3 * (0.3 + 2 * 0.7)))  # d(xw(x+w))


def test_second_derivatives_inline_the_helpers_again():
    hessian = srcad.hessian(caller)(0.3, 0.7, 3)
    gradient = srcad.grad(caller)
    _close(hessian, _along(lambda t: gradient(0.3 + t, 0.7, 3)), rtol=1e-6)
    x = np.linspace(0.1, 1.0, 4)
    hessian = srcad.hessian(array_caller)(x, 0.4)
    gradient = srcad.grad(array_caller)
    for column in range(4):
        step = np.zeros(4)
        step[column] = 1.0
        expected = _along(lambda t: gradient(x + t * step, 0.4))
        _close(hessian[:, column], expected, rtol=1e-6)


def test_what_the_helpers_derivatives_cannot_do_is_refused_at_the_helpers_line():
    x = np.linspace(0.0, 1.0, 4).reshape(2, 2)
    with pytest.raises(srcad.DifferentiabilityError) as caught:
        srcad.grad(caller_of_writes_through_ravel)(x, 0.5)
    error = caught.value
    assert "ravel" in str(error) and "numba" not in str(error)
    first = writes_through_ravel.python_function.__code__.co_firstlineno
    assert error.filename == __file__ and error.lineno == first + 2  # decorator, def, y = x.ravel()


def test_options_other_than_inline_are_refused():
    with pytest.raises(TypeError, match="inline=True or inline=False"):
        srcad.differentiable(inline="sometimes")(lambda x: x)
    with pytest.raises(TypeError, match="fastmath"):

        @srcad.differentiable(fastmath=True)
        def square(x):
            return x * x


def test_threads_differentiating_callers_of_one_helper_at_once():
    """Compiling a call through a helper's derivatives takes numba's lock, then srcad's: no deadlock."""

    def caller_a(x, w):
        return layered(x, w) * bump(x, w)

    def caller_b(x, w):
        return layered(w, x) + bump(w, x) * 3.0

    results, errors = {}, []

    def work(name, function):
        try:
            results[name] = srcad.grad(function)(0.4, 0.9)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n, f)) for n, f in (("a", caller_a), ("b", caller_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in threads) and not errors
    _close(results["a"], _along(lambda t: caller_a(0.4 + t, 0.9)))
    _close(results["b"], _along(lambda t: caller_b(0.4 + t, 0.9)))


HELPER_MODULE = textwrap.dedent('''
    import math
    import srcad

    @srcad.differentiable(inline=False)
    def inner(x, k):
        return k * math.sin(x)

    @srcad.differentiable(inline=False)
    def helper(x, k):
        return inner(x, k) * math.sin(x)  # a helper calling a helper: its compiled code holds the other's

    def user(x, k):
        return helper(x * 2.0, k) + helper(x, k * k)
''')

PROBE = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import srcad, user_calls
    print(json.dumps({"gradient": srcad.grad(user_calls.user, wrt=(0, 1))(0.3, 1.5),
                      "libcst": "libcst" in sys.modules}))
''')


def test_a_second_process_finds_the_helper_by_name(tmp_path):
    (tmp_path / "user_calls.py").write_text(HELPER_MODULE)
    environment = dict(os.environ, SRCAD_CACHE_DIR=str(tmp_path / "cache"))
    runs = []
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path)], capture_output=True, text=True,
                                env=environment, timeout=600)
        assert result.returncode == 0, result.stderr
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    x, k = 0.3, 1.5
    expected_x = 2.0 * k * math.sin(4 * x) + k * k * math.sin(2 * x)  # d/dx k sin^2(2x) + k^2 sin^2(x)
    expected_k = math.sin(2 * x) ** 2 + 2 * k * math.sin(x) ** 2
    assert runs[0]["gradient"] == pytest.approx([expected_x, expected_k], rel=1e-12)
    assert runs[1]["gradient"] == runs[0]["gradient"] and not runs[1]["libcst"]


@srcad.differentiable(inline=False)
def inner_energy(x, w):
    return np.sum(np.tanh(x * w) ** 2) + w * w


@srcad.differentiable(inline=False)
def middle_energy(x, w):
    y = x * 0.5 + 1.0
    return inner_energy(y, w) * inner_energy(x, 2.0 * w) + np.sum(y)


def outer_energy(x, w):
    return middle_energy(x[1:], w) + middle_energy(x[:-1] * x[1:], w * w)


def test_helpers_calling_helpers_through_their_derivatives_with_views():
    x, w = np.array([0.3, -0.8, 1.1, 0.45]), 0.7
    adjoint = srcad.source(outer_energy, "adjoint", args=(x, w))
    assert "middle_energy_call2_adjoint(" in adjoint and "inner_energy" not in adjoint
    gradient_x, gradient_w = srcad.grad(outer_energy, wrt=(0, 1))(x, w)
    _close(gradient_x, _gradient_by_differences(lambda v: outer_energy(v, w), x))
    _close(gradient_w, _along(lambda t: outer_energy(x, w + t)))
    direction = np.array([0.5, 1.0, -1.0, 2.0])
    _, along = srcad.jvp(outer_energy, (x, w), (direction, -0.25))
    _close(along, _along(lambda t: outer_energy(x + t * direction, w - 0.25 * t)))


@srcad.kernel
def bump_kernel(x, w, out):
    i = srcad.tid()
    out[i] = bump(x[i], w[0]) + layered(x[i], w[0])


def test_kernels_inline_every_call():
    x, w = np.array([0.2, 0.9, -0.4]), np.array([0.6])
    assert "srcad.callees" not in srcad.source(bump_kernel, "adjoint", args=(x, w, np.zeros(3)))
    loss = np.zeros(1)
    out = np.zeros(3)
    with srcad.Tape() as tape:
        bump_kernel.launch(3, x, w, out)
        total_kernel.launch(3, out, loss)
    tape.backward(loss)
    expected = [_along(lambda t, k=k: sum(bump(x[j] + t * (j == k), w[0]) + layered(x[j] + t * (j == k), w[0])
                                          for j in range(3))) for k in range(3)]
    _close(tape.gradient(x), expected)


@srcad.kernel
def total_kernel(out, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, out[i])


JIT_DISABLED = textwrap.dedent('''
    import sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np, srcad, test_callee_derivatives as t
    x = np.array([0.3, -0.8, 1.1, 0.45])
    print([float(g) for g in srcad.grad(t.outer_energy)(x, 0.7)], ",", float(srcad.grad(t.caller)(0.3, 0.7, 2)))
''')


def test_calls_through_derivatives_run_without_numba_jit(tmp_path):
    environment = dict(os.environ, NUMBA_DISABLE_JIT="1", SRCAD_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", JIT_DISABLED, os.path.dirname(__file__)], capture_output=True,
                            text=True, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr
    gradient_x, gradient_scalar = eval(result.stdout.strip().splitlines()[-1])
    x = np.array([0.3, -0.8, 1.1, 0.45])
    _close(gradient_x, _gradient_by_differences(lambda v: outer_energy(v, 0.7), x))
    _close(gradient_scalar, _along(lambda t: caller(0.3 + t, 0.7, 2)))


def _caller_of(helper):
    def call_it(x, w):
        return helper(x, w) * 2.0

    return call_it


def test_the_inline_option_is_part_of_the_cache_key():
    """Two callers alike but for their helper's option (found by benchmarks/calls.py: the second
    caller was given the first one's cached adjoint)."""
    from srcad.specialize import specializer_of

    inlined, called = _caller_of(layered_inlined), _caller_of(layered)
    for caller_ in (inlined, called):  # the first stores its adjoint in the cache; the second must not find it
        _close(srcad.grad(caller_)(0.3, 0.7), _along(lambda t: caller_(0.3 + t, 0.7)))
    compiled = {c: [m.source for m in specializer_of(c).compiled.values()] for c in (inlined, called)}
    assert compiled[inlined] and not any("srcad.callees" in source for source in compiled[inlined])
    assert compiled[called] and all("srcad.callees" in source for source in compiled[called])
