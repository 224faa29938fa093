"""Inverse design of a hanging cloth, written as kernels on a checkpointed ``srcad.Tape``.

A 12 x 16 grid of masses joined by springs hangs from its top row under gravity, damped until it
settles. The rest lengths of the vertical springs, one per column, are the design: Adam finds
them so that the settled cloth's bottom edge takes a target shape (a smile). The simulation is two
kernels launched per step (one thread per mass: spring forces into a scratch array, then positions
and velocities updated in place), recorded on ``srcad.Tape(checkpoint="auto")``, which keeps a
snapshot every few launches instead of a copy per launch; ``tape.backward`` gives the gradient
with respect to the rest lengths.

Run:  python examples/cloth_design.py [--device cpu|cuda] [--steps 600] [--iters 60] [--out out] [--check]

``--device cuda`` runs the kernels on a GPU (or in numba's simulator with NUMBA_ENABLE_CUDASIM=1).
Writes ``cloth_loss.png`` and ``cloth_shape.png``.
"""

import numpy as np

import srcad
from example_tools import arguments, check_along, descend, plot_loss, pyplot, save, summary

ROWS, COLUMNS, SPACING = 12, 16, 0.1
GRAVITY, STIFFNESS, DAMPING, DT = 9.8, 800.0, 0.98, 0.01


def pull(x, i, j, k, l, rest):
    """The force of the spring from mass (i, j) to mass (k, l) on (i, j)."""
    dx = x[k, l, 0] - x[i, j, 0]
    dy = x[k, l, 1] - x[i, j, 1]
    length = np.sqrt(dx * dx + dy * dy)
    strength = STIFFNESS * (length - rest) / length
    return strength * dx, strength * dy


@srcad.kernel
def spring_forces(x, rest_down, f):
    i, j = srcad.tid()
    fx = 0.0
    fy = -GRAVITY
    if i > 0:
        px, py = pull(x, i, j, i - 1, j, rest_down[j])
        fx += px
        fy += py
    if i < x.shape[0] - 1:
        px, py = pull(x, i, j, i + 1, j, rest_down[j])
        fx += px
        fy += py
    if j > 0:
        px, py = pull(x, i, j, i, j - 1, SPACING)
        fx += px
        fy += py
    if j < x.shape[1] - 1:
        px, py = pull(x, i, j, i, j + 1, SPACING)
        fx += px
        fy += py
    f[i, j, 0] = fx
    f[i, j, 1] = fy


@srcad.kernel
def advance(x, v, f, dt):
    i, j = srcad.tid()
    if i > 0:  # the top row is held
        v[i, j, 0] = DAMPING * v[i, j, 0] + dt * f[i, j, 0]
        v[i, j, 1] = DAMPING * v[i, j, 1] + dt * f[i, j, 1]
        x[i, j, 0] += dt * v[i, j, 0]
        x[i, j, 1] += dt * v[i, j, 1]


@srcad.kernel
def bottom_edge_miss(x, target, loss):
    i, j = srcad.tid()
    if i == x.shape[0] - 1:
        srcad.atomic_add(loss, 0, (x[i, j, 1] - target[j]) ** 2)


def flat_cloth():
    x = np.zeros((ROWS, COLUMNS, 2))
    x[:, :, 0] = SPACING * np.arange(COLUMNS)[None, :]
    x[:, :, 1] = -SPACING * np.arange(ROWS)[:, None]
    return x


class Device:
    """Where the arrays live: NumPy's on the CPU, numba's device arrays on CUDA."""

    def __init__(self, name):
        self.name = name
        if name == "cuda":
            from numba import cuda

            self.place, self.fetch = cuda.to_device, lambda a: a.copy_to_host()
        else:
            self.place, self.fetch = np.array, np.asarray


def simulate(rest_down, target, steps, device, tape=None):
    """The settled cloth's positions and its miss; recorded on ``tape`` where one is given."""
    x, v, f = device.place(flat_cloth()), device.place(np.zeros((ROWS, COLUMNS, 2))), device.place(np.zeros((ROWS, COLUMNS, 2)))
    rest, aim, loss = device.place(rest_down), device.place(target), device.place(np.zeros(1))
    launch = dict(device=device.name)
    recording = tape if tape is not None else _Nothing()
    with recording:
        for _ in range(steps):
            spring_forces.launch((ROWS, COLUMNS), x, rest, f, **launch)
            advance.launch((ROWS, COLUMNS), x, v, f, DT, **launch)
        bottom_edge_miss.launch((ROWS, COLUMNS), x, aim, loss, **launch)
    return x, rest, loss


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def draw(before, after, target, out):
    plt = pyplot()
    if plt is None:
        return
    figure, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, cloth, title in ((axes[0], before, "first design"), (axes[1], after, "found design")):
        ax.plot(cloth[:, :, 0], cloth[:, :, 1], color="tab:blue", lw=0.8)
        ax.plot(cloth[:, :, 0].T, cloth[:, :, 1].T, color="tab:blue", lw=0.8)
        ax.plot(SPACING * np.arange(COLUMNS), target, "o--", color="tab:red", ms=3, label="target edge")
        ax.set_title(title)
        ax.set_aspect("equal")
    axes[0].legend(loc="lower left", fontsize=8)
    save(figure, out, "cloth_shape.png")


def main():
    options = arguments(__doc__.splitlines()[0], steps=600, iters=60, device=True, rate=(0.002, "Adam's learning rate"))
    device = Device(options.device)
    sag = np.sin(np.pi * np.arange(COLUMNS) / (COLUMNS - 1))
    target = -SPACING * (ROWS - 1) * (1.15 + 0.25 * sag)
    rest_down = np.full(COLUMNS, SPACING)
    tape = srcad.Tape(checkpoint="auto")

    def value_and_gradient(rest_down):
        _, rest, loss = simulate(rest_down, target, options.steps, device, tape)
        tape.zero()
        tape.backward(loss)
        return float(device.fetch(loss)[0]), device.fetch(tape.gradient(rest))

    if options.check:
        check_along(lambda r: float(device.fetch(simulate(r, target, options.steps, device)[2])[0]),
                    lambda r: value_and_gradient(r)[1], rest_down)
    before = device.fetch(simulate(rest_down, target, options.steps, device)[0])
    losses, timer = descend(lambda: value_and_gradient(rest_down), [rest_down], options.iters, options.rate, "cloth")
    after = device.fetch(simulate(rest_down, target, options.steps, device)[0])
    print(f"the tape kept {tape.kept_bytes() / 1e3:.0f} kB for {2 * options.steps + 1} launches")
    plot_loss(losses, options.out, "cloth")
    draw(before, after, target, options.out)
    worst = np.max(np.abs(after[-1, :, 1] - target))
    summary("cloth", losses, timer, goal=f"bottom edge within {worst * 100:.1f} cm of the target ({options.device})")


if __name__ == "__main__":
    main()
