"""Values the reverse sweep reads back from the element they were stored in instead of computing
them again (``transforms/analysis/stored_values.py``): gradients against central differences of the
user's plain function where the element is read back and where it must not be, and the reverse
sweep computing each ``tanh`` once."""

import re

import numpy as np
from test_fused_gradients import _check  # the user's plain function against central differences

import srcad


def _reverse_sweep(function, args, wrt):
    return srcad.source(function, "adjoint", args=args, wrt=wrt).split("# reverse sweep")[1]


def tanh_network_steps(W1, b1, W2, x0, steps, dt):
    x = x0.copy()
    for _ in range(steps):
        h = np.tanh(x @ W1 + b1)  # its adjoint reads tanh's result: h holds it
        x = x + dt * (h @ W2)
    return np.sum(x ** 2)


def test_a_stored_result_is_read_back_not_computed_again():
    rng = np.random.default_rng(0)
    args = (0.3 * rng.normal(size=(3, 8)), 0.1 * rng.normal(size=8), 0.3 * rng.normal(size=(8, 3)),
            rng.normal(size=(5, 3)), 6, 0.05)
    _check(tanh_network_steps, args, (0, 1, 2, 3))
    every_step_kept = srcad.differentiable(tanh_network_steps, checkpoint=None)  # no segments run again
    reverse = _reverse_sweep(every_step_kept, args, (0, 1, 2, 3))
    assert "simd_tanh(" not in reverse and re.search(r"h_element\w* = h\[", reverse)


def loop_layer(w, x):
    n = x.shape[0]
    a = np.empty(n)  # bound once, each element stored once
    for i in range(n):
        s = damped_sine(w * x[i])
        a[i] = s
    total = 0.0
    for i in range(n):
        total += a[i] * a[i] * x[i]
    return total


def damped_sine(v):
    return np.sin(v) * np.exp(0.1 * v)


def test_a_loop_written_array_of_one_binding():
    args = (0.7, np.linspace(-1.0, 1.0, 6))
    _check(loop_layer, args, (0, 1))


def stored_every_step(y, c, steps):
    n = y.shape[0]
    h = np.empty(n)  # bound once, but written again in each step: it holds the last step's values
    s = 1.0
    for t in range(steps):
        for i in range(n):
            v = np.tanh(c * y[i] + 0.1 * t)
            h[i] = v
            s = s * (1.0 + 0.5 * v)  # the reverse needs v of every step
    return s + np.sum(h * h)


def written_twice(x0, c):
    n = x0.shape[0]
    h = np.empty(n)
    s = 1.0
    for i in range(n):
        v = np.sin(c * x0[i])
        h[i] = v
        s = s * (1.0 + 0.5 * v)
    h[0] = 2.0  # another write into the array: the element does not hold the value any more
    return s + np.sum(h * x0)


def viewed(x0, c):
    n = x0.shape[0]
    h = np.empty(n)
    tail = h[1:]  # another name for the memory
    s = 1.0
    for i in range(n):
        v = np.cos(c * x0[i])
        h[i] = v
        s = s * (1.0 + 0.5 * v)
    tail[0] = 0.5 * tail[0]  # (h[1] changes)
    return s + np.sum(h * h)


def test_elements_that_may_not_hold_the_value_are_not_read_back():
    _check(stored_every_step, (np.linspace(-0.5, 0.5, 4), 0.8, 5), (0, 1))
    _check(written_twice, (np.linspace(-1.0, 1.0, 5), 0.8), (0, 1))
    _check(viewed, (np.linspace(-1.0, 1.0, 5), 0.8), (0, 1))


def stored_then_handed_on(W, x0, steps):
    x = x0.copy()
    for _ in range(steps):
        h = np.tanh(x @ W)  # stored element by element...
        g = h  # ...then handed to another name, which writes the memory
        g[0, 0] = 0.5 * g[0, 0]
        x = x + 0.1 * g
    return np.sum(x * x)


def test_an_element_written_through_another_name_is_not_read_back():
    rng = np.random.default_rng(4)
    args = (0.4 * rng.normal(size=(3, 3)), rng.normal(size=(2, 3)), 4)
    _check(stored_then_handed_on, args, (0, 1))
