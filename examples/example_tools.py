"""What the optimisation examples share: their command line, Adam, the progress bar, the gradient
check, the loss curve and the summary line. Not part of srcad: plain code a user would write once."""

import argparse
import os
import sys
import time

import numpy as np

import srcad


def arguments(description, steps, iters, device=False, **more):
    """The examples' command line: ``--steps``, ``--iters``, ``--out``, ``--check``, ``--seed`` (and
    ``--device`` where it applies); ``more``: name -> (default, help) of an example's own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=steps, help="time steps of the simulation (default %(default)s)")
    parser.add_argument("--iters", type=int, default=iters, help="optimisation iterations (default %(default)s)")
    parser.add_argument("--out", default="out", help="folder for the pictures (default %(default)s)")
    parser.add_argument("--check", action="store_true", help="check the gradient against central differences first")
    parser.add_argument("--seed", type=int, default=0)
    if device:
        parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    for name, (default, text) in more.items():
        if isinstance(default, bool):  # a switch: --kernels
            parser.add_argument(f"--{name.replace('_', '-')}", action="store_true", help=text)
        else:
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default, help=text)
    options = parser.parse_args()
    os.makedirs(options.out, exist_ok=True)
    return options


class Adam:
    """Adam (Kingma and Ba) over a list of float arrays, updated in place."""

    def __init__(self, parameters, rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.parameters, self.rate = parameters, rate
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.first = [np.zeros_like(p) for p in parameters]
        self.second = [np.zeros_like(p) for p in parameters]
        self.count = 0

    def step(self, gradients):
        self.count += 1
        for p, g, m, v in zip(self.parameters, gradients, self.first, self.second):
            m[...] = self.beta1 * m + (1.0 - self.beta1) * g
            v[...] = self.beta2 * v + (1.0 - self.beta2) * g * g
            m_hat = m / (1.0 - self.beta1 ** self.count)
            v_hat = v / (1.0 - self.beta2 ** self.count)
            p -= self.rate * m_hat / (np.sqrt(v_hat) + self.epsilon)


def descend(value_and_gradients, parameters, iters, rate, name, bar=True):
    """Adam on ``parameters`` (float arrays, updated in place) for ``iters`` iterations:
    ``value_and_gradients()`` gives the loss and the gradients (one array, or a tuple of one per
    parameter) at the parameters as they are. Returns the losses (the first before any step) and
    the ``GradientTimer`` of the calls."""
    adam, timer, losses = Adam(parameters, rate), GradientTimer(), []
    steps = iterations(iters + 1, name) if bar else range(iters + 1)
    for it in steps:
        loss, gradients = timer(value_and_gradients)
        losses.append(loss)
        show_loss(steps, loss)
        if it < iters:
            adam.step(list(gradients) if isinstance(gradients, (tuple, list)) else [gradients])
    return losses, timer


def iterations(count, what="iteration"):
    """``range(count)`` with a progress bar (tqdm's where installed: ``pip install "srcad[examples]"``)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return range(count)
    return tqdm(range(count), desc=what, unit="it", file=sys.stdout, mininterval=0.5)


def show_loss(bar, loss):
    if hasattr(bar, "set_postfix"):
        bar.set_postfix(loss=f"{loss:.4g}")


def check_gradient(function, *args, wrt, directions=4):
    """``--check``: the gradient along random directions next to central differences; stops the
    example where they disagree."""
    result = srcad.check_grad(function, *args, wrt=wrt, directions=directions)
    print(f"gradient check along {directions} random directions: worst relative error {result.worst_error:.1e}"
          f" ({'ok' if result.ok else 'MISMATCH'})")
    if not result.ok:
        sys.exit(f"the gradient disagrees with central differences: {result}")


def check_along(value_of, gradient_of, x, directions=4, seed=0, step=1e-6, tolerance=1e-5):
    """``--check`` for a gradient srcad computes some other way (a tape's): the derivative of
    ``value_of`` at the float array ``x`` along random unit directions, by central differences,
    next to ``gradient_of(x)``'s dot product with each; stops the example where they disagree."""
    gradient = gradient_of(x.copy())
    rng = np.random.default_rng(seed)
    h = step * max(1.0, float(np.max(np.abs(x))))
    worst = 0.0
    for _ in range(directions):
        direction = rng.standard_normal(x.shape)
        direction /= np.linalg.norm(direction)
        difference = (value_of(x + h * direction) - value_of(x - h * direction)) / (2 * h)
        worst = max(worst, abs(float(np.sum(gradient * direction)) - difference) / max(1.0, abs(difference)))
    print(f"gradient check along {directions} random directions: worst relative error {worst:.1e}"
          f" ({'ok' if worst <= tolerance else 'MISMATCH'})")
    if worst > tolerance:
        sys.exit("the gradient disagrees with central differences")


def pyplot():
    """matplotlib's pyplot drawing into files, or None where matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        print('(no pictures: matplotlib is not installed; pip install "srcad[examples]")')
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_loss(losses, out, name, log=True):
    plt = pyplot()
    if plt is None:
        return
    figure, axes = plt.subplots(figsize=(5, 3.5))
    axes.plot(np.arange(len(losses)), losses)
    if log and min(losses) > 0:
        axes.set_yscale("log")
    axes.set_xlabel("iteration")
    axes.set_ylabel("loss")
    axes.set_title(f"{name}: loss")
    save(figure, out, f"{name}_loss.png")


def save(figure, out, name):
    """Write a matplotlib figure to ``out/name`` and close it."""
    figure.tight_layout()
    path = os.path.join(out, name)
    figure.savefig(path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)
    print(f"wrote {path}")


class GradientTimer:
    """Wall time per gradient, the first (compiling) call left out."""

    def __init__(self):
        self.times = []

    def __call__(self, gradient, *args):
        start = time.perf_counter()
        result = gradient(*args)
        self.times.append(time.perf_counter() - start)
        return result

    def per_gradient(self):
        later = self.times[1:] or self.times
        return float(np.median(later)) if later else float("nan")


def summary(name, losses, timer, goal=None):
    """The examples' last line: the first and last loss, how many times lower, the time per gradient."""
    first, last = losses[0], losses[-1]
    ratio = f" ({abs(first / last):.1f}x lower)" if last != 0 and abs(last) < abs(first) else ""
    reached = f"; {goal}" if goal else ""
    seconds = timer.per_gradient()
    per_gradient = f"{seconds * 1e3:.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} us"
    print(f"{name}: loss {first:.4g} -> {last:.4g}{ratio} in {len(losses) - 1} iterations, "
          f"{per_gradient} per gradient{reached}")
