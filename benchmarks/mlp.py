"""Gradient of a vectorized 2-layer MLP loss over a batch: srcad against a
numba primal, a hand-written numba adjoint and (when installed) JAX,
measured side by side in one run.

The function is plain NumPy, written as a user would:

    H = np.tanh(X @ W1 + b1)
    P = H @ W2 + b2
    R = P - Y
    loss = np.sum(R * R) / X.shape[0]

with a batch of 512 rows, 32 inputs, 64 hidden units and 8 outputs by
default. srcad differentiates it with respect to the weights and biases
``W1, b1, W2, b2``; ``X`` and ``Y`` are data.

Run:  python benchmarks/mlp.py [--batch 512] [--inputs 32] [--hidden 64]
                               [--outputs 8] [--repeats 50] [--threads 1]

The matrix products are small (a few MFLOP), and on a shared 2-core machine a
multithreaded BLAS fighting another process for the cores is slower by
orders of magnitude, so by default every contender runs on one thread: the
script sets OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS (the
BLAS behind numba's ``@``) and XLA_FLAGS (JAX's CPU thread pool) before
importing them. ``--threads 0`` leaves the libraries' own defaults.

Each contender is called once to compile, then the contenders are timed in
turn, round after round, and the best round of each is kept, so a slow
moment on the machine touches all of them alike. The script prints times and
ratios; it asserts nothing about time. It exits non-zero only when srcad
fails to produce a gradient (after timing the other contenders).
"""

import argparse
import os
import sys
import time
import traceback


def threads_option(argv):
    """The --threads value, read before NumPy, SciPy's BLAS and XLA start their thread pools."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_known_args(argv)[0].threads


def limit_threads(threads):
    if threads <= 0:
        return
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(threads)
    xla = f"intra_op_parallelism_threads={threads}"
    if threads == 1:
        xla = "--xla_cpu_multi_thread_eigen=false " + xla
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + xla).strip()


if __name__ == "__main__":
    limit_threads(threads_option(sys.argv[1:]))

import numba  # noqa: E402
import numpy as np  # noqa: E402

from timing import timed_rounds  # noqa: E402  (benchmarks/timing.py)

NAMES = ("W1", "b1", "W2", "b2")
TANH_ROW = "(tanh alone, numba)"


def mlp_loss(W1, b1, W2, b2, X, Y):
    H = np.tanh(X @ W1 + b1)
    P = H @ W2 + b2
    R = P - Y
    return np.sum(R * R) / X.shape[0]


@numba.njit
def mlp_hand_adjoint(W1, b1, W2, b2, X, Y):
    """(loss, dW1, db1, dW2, db2), written by hand as an expert would.

    The three matrix products of each sweep go to BLAS (``@`` in numba);
    everything elementwise is fused into explicit loops over the (small)
    activations, with the bias adds, the residual, the loss and the bias
    gradients (column sums) done in the same passes. With Z = X W1 + b1,
    H = tanh(Z), P = H W2 + b2, R = P - Y, L = sum(R^2) / B:
        dP  = 2 R / B          db2 = sum_rows dP      dW2 = H^T dP
        dZ  = (dP W2^T) (1 - H^2)   db1 = sum_rows dZ  dW1 = X^T dZ
    """
    batch = X.shape[0]
    hidden = W1.shape[1]
    outputs = W2.shape[1]
    H = X @ W1
    for i in range(batch):
        for j in range(hidden):
            H[i, j] = np.tanh(H[i, j] + b1[j])
    dP = H @ W2  # P before the bias, overwritten by dL/dP
    loss = 0.0
    scale = 2.0 / batch
    db2 = np.zeros(outputs)
    for i in range(batch):
        for k in range(outputs):
            r = dP[i, k] + b2[k] - Y[i, k]
            loss += r * r
            g = scale * r
            dP[i, k] = g
            db2[k] += g
    loss /= batch
    dW2 = H.T @ dP
    dZ = dP @ W2.T  # dL/dH, overwritten by dL/dZ
    db1 = np.zeros(hidden)
    for i in range(batch):
        for j in range(hidden):
            h = H[i, j]
            g = dZ[i, j] * (1.0 - h * h)
            dZ[i, j] = g
            db1[j] += g
    dW1 = X.T @ dZ
    return loss, dW1, db1, dW2, db2


@numba.njit
def hidden_tanh(Z, H):
    """H = tanh(Z) element by element, as numba runs it: for scale, not a contender."""
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            H[i, j] = np.tanh(Z[i, j])
    return H


def make_problem(batch, inputs, hidden, outputs, seed=0):
    """Random weights (scaled by fan-in), biases, inputs and targets, float64, C order."""
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((inputs, hidden)) / np.sqrt(inputs)
    b1 = 0.1 * rng.standard_normal(hidden)
    W2 = rng.standard_normal((hidden, outputs)) / np.sqrt(hidden)
    b2 = 0.1 * rng.standard_normal(outputs)
    X = rng.standard_normal((batch, inputs))
    Y = rng.standard_normal((batch, outputs))
    return W1, b1, W2, b2, X, Y


def central_differences(f, args, relative_step=1e-6):
    """d f / d (W1, b1, W2, b2), every component, by central differences in float64."""
    gradient = []
    for position in range(4):
        a = args[position]
        g = np.empty_like(a)
        for index in np.ndindex(a.shape):
            h = relative_step * max(1.0, abs(a[index]))
            plus, minus = a.copy(), a.copy()
            plus[index] += h
            minus[index] -= h
            args_plus = args[:position] + (plus,) + args[position + 1 :]
            args_minus = args[:position] + (minus,) + args[position + 1 :]
            g[index] = (f(*args_plus) - f(*args_minus)) / (2.0 * h)
        gradient.append(g)
    return tuple(gradient)


def relative_errors(gradient, reference):
    """Per parameter: ||g - ref||_inf / ||ref||_inf."""
    return [
        float(np.max(np.abs(np.asarray(g) - r)) / np.max(np.abs(r)))
        for g, r in zip(gradient, reference)
    ]


def describe_errors(gradient, reference):
    errors = relative_errors(gradient, reference)
    worst = NAMES[int(np.argmax(errors))]
    per_name = ", ".join(f"{name} {e:.1e}" for name, e in zip(NAMES, errors))
    return f"max rel error {max(errors):.2e} (worst {worst}; {per_name})"


def check_shapes(gradient, args):
    if not isinstance(gradient, tuple) or len(gradient) != 4:
        raise TypeError(f"expected a tuple of 4 gradients, got {type(gradient).__name__}")
    for name, g, a in zip(NAMES, gradient, args):
        if np.shape(g) != a.shape:
            raise ValueError(f"gradient for {name} has shape {np.shape(g)}, expected {a.shape}")


def jax_contender(args):
    """jax.jit(jax.grad(...)) of the same loss in jax.numpy, float64, or None.

    The inputs are placed on JAX's (CPU) device once, here, so the timed call
    does not include copying the batch from NumPy.
    """
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def jax_mlp_loss(W1, b1, W2, b2, X, Y):
        H = jnp.tanh(X @ W1 + b1)
        P = H @ W2 + b2
        R = P - Y
        return jnp.sum(R * R) / X.shape[0]

    jax_gradient = jax.jit(jax.grad(jax_mlp_loss, argnums=(0, 1, 2, 3)))
    device_args = tuple(jax.device_put(a) for a in args)

    def call(*numpy_args_unused):
        return jax.block_until_ready(jax_gradient(*device_args))

    return call


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512, help="rows in the batch (default 512)")
    parser.add_argument("--inputs", type=int, default=32, help="input features (default 32)")
    parser.add_argument("--hidden", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--outputs", type=int, default=8, help="outputs (default 8)")
    parser.add_argument("--repeats", type=int, default=50, help="timed rounds (default 50)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="threads for BLAS and XLA, set before they load (default 1; 0: the libraries' defaults)",
    )
    options = parser.parse_args(argv)
    batch, inputs, hidden, outputs = options.batch, options.inputs, options.hidden, options.outputs
    args = make_problem(batch, inputs, hidden, outputs)

    primal = numba.njit(mlp_loss)
    loss = primal(*args)  # compile
    hand_loss, *hand_list = mlp_hand_adjoint(*args)  # compile
    hand_gradient = tuple(hand_list)
    print(f"2-layer MLP: batch {batch}, {inputs} inputs, {hidden} hidden (tanh), {outputs} outputs, float64")
    threads = "the libraries' defaults" if options.threads <= 0 else options.threads
    print(f"threads: {threads}  (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', 'unset')!r})")
    print(f"loss = {loss:.12g}  (NumPy: {mlp_loss(*args):.12g}; hand-written adjoint's forward sweep: {hand_loss:.12g})")
    print("hand-written adjoint   " + "   ".join(f"|d/d{n}|_inf = {np.max(np.abs(g)):.6e}" for n, g in zip(NAMES, hand_gradient)))

    # Central differences on a small network, where every component is cheap.
    check_args = make_problem(6, 4, 5, 3, seed=1)
    reference = central_differences(primal, check_args)
    _, *check_hand = mlp_hand_adjoint(*check_args)
    print(
        "hand-written adjoint vs central differences (batch 6, 4-5-3): "
        + describe_errors(check_hand, reference)
    )

    contenders = {"numba primal": primal, "hand-written adjoint": mlp_hand_adjoint}

    srcad_error = None
    try:
        import srcad

        srcad_gradient = srcad.grad(mlp_loss, wrt=(0, 1, 2, 3))
        start = time.perf_counter()
        gradient = srcad_gradient(*args)  # compiles (or loads from the cache)
        first_call = time.perf_counter() - start
        check_shapes(gradient, args)
        print("srcad.grad             " + "   ".join(f"|d/d{n}|_inf = {np.max(np.abs(g)):.6e}" for n, g in zip(NAMES, gradient)))
        print("srcad vs hand-written adjoint: " + describe_errors(gradient, hand_gradient))
        check_srcad = srcad_gradient(*check_args)
        print("srcad vs central differences (batch 6, 4-5-3): " + describe_errors(check_srcad, reference))
        print(f"srcad first call (compile or cache load + run): {first_call:.3f} s")
        contenders["srcad.grad"] = srcad_gradient
    except Exception as error:
        srcad_error = error
        sys.stdout.flush()
        print("\nsrcad FAILED; timing the other contenders only:", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()

    jax_gradient = jax_contender(args)
    if jax_gradient is not None:
        start = time.perf_counter()
        gradient = tuple(np.asarray(g) for g in jax_gradient(*args))
        print(f"jax first call (trace + XLA compile + run): {time.perf_counter() - start:.3f} s")
        print("jax vs hand-written adjoint: " + describe_errors(gradient, hand_gradient))
        contenders["jax.jit(jax.grad)"] = jax_gradient
    else:
        print("jax is not importable: no JAX row")

    # For scale: the tanh of the hidden layer alone, as numba computes it (it is
    # in the primal, the hand-written adjoint and srcad's adjoint alike).
    hidden_pre = args[4] @ args[0] + args[1]
    hidden_out = np.empty_like(hidden_pre)
    hidden_tanh(hidden_pre, hidden_out)  # compile
    contenders[TANH_ROW] = lambda *args_unused: hidden_tanh(hidden_pre, hidden_out)

    best = timed_rounds(contenders, args, options.repeats)

    # Floating-point operations in the matrix products (2 per multiply-add):
    # X W1 and H W2 in the primal; the gradient adds H^T dP, dP W2^T and X^T dZ.
    flops_primal = 2 * batch * hidden * (inputs + outputs)
    flops_gradient = flops_primal + 2 * batch * hidden * (inputs + 2 * outputs)
    print(f"\nbatch {batch}, {inputs}-{hidden}-{outputs}, best of {options.repeats} rounds, after warm-up")
    print(f"{'contender':<24}{'time (us)':>12}{'ns / row':>12}")
    for name, seconds in best.items():
        print(f"{name:<24}{seconds * 1e6:>12.1f}{seconds * 1e9 / batch:>12.1f}")
    print(f"(matrix products: {flops_primal / 1e6:.2f} MFLOP in the primal, {flops_gradient / 1e6:.2f} with the gradient)")

    print()
    jax_name = "jax.jit(jax.grad)"
    print(f"hand-written / primal   {best['hand-written adjoint'] / best['numba primal']:6.2f}x   (for reference)")
    if jax_name in best:
        print(f"jax / hand-written      {best[jax_name] / best['hand-written adjoint']:6.2f}x   (for reference; above 1: hand-written faster)")
    if "srcad.grad" in best:
        print(f"srcad / primal          {best['srcad.grad'] / best['numba primal']:6.2f}x")
        print(f"srcad / hand-written    {best['srcad.grad'] / best['hand-written adjoint']:6.2f}x")
        if jax_name in best:
            print(f"jax / srcad             {best[jax_name] / best['srcad.grad']:6.2f}x   (above 1: srcad faster)")
    if srcad_error is not None:
        print(f"\nsrcad failed: {type(srcad_error).__name__}: {srcad_error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
