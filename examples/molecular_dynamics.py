"""Molecular dynamics: a Morse potential's parameters learned from where the atoms end up.

Sixteen atoms in a plane interact in pairs through a Morse potential (well depth, width, and
equilibrium distance). The simulation steps with velocity Verlet, the forces being the energy's
gradient, ``f = -srcad.grad(energy)(x, ...)``: a derivative inside the function srcad
differentiates. The loss is how far the final positions are from those an unknown potential
produced; its gradient with respect to the potential's three parameters needs the energy's
second derivatives, which srcad generates. Adam then recovers the potential.

The simulation is written twice: once as a plain function of arrays, and once as kernels on a
``srcad.Tape`` (one thread per atom, each adding up its pairs' forces from the pair energy's
derivative, ``srcad.grad(morse)(r, ...)``), which run on the CPU or, with ``--device cuda``, on a
GPU. ``--kernels`` fits with the kernels.

Run:  python examples/molecular_dynamics.py [--steps 200] [--iters 120] [--kernels] [--device cpu|cuda]
          [--out out] [--check]

Writes ``md_loss.png`` and ``md_atoms.png`` (the atoms' paths under the first guess, the true and
the learned potential).
"""

import math

import numpy as np

import srcad
from example_tools import arguments, check_along, check_gradient, descend, plot_loss, pyplot, save, summary

DT = 0.01
TRUE_POTENTIAL = np.array([1.0, 1.6, 1.1])  # depth, width, equilibrium distance
FIRST_GUESS = np.array([0.6, 1.2, 1.25])


def morse(r, depth, width, r0):
    """The Morse energy of one pair at distance r."""
    q = 1.0 - math.exp(-width * (r - r0))
    return depth * (q * q - 1.0)


def energy(x, depth, width, r0):
    """The energy of every pair of atoms (x: positions, one row per atom)."""
    n = x.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = x[i, 0] - x[j, 0]
            dy = x[i, 1] - x[j, 1]
            total += morse(math.sqrt(dx * dx + dy * dy), depth, width, r0)
    return total


@srcad.differentiable
def simulate(potential, x0, v0, steps):
    """Positions after ``steps`` velocity Verlet steps under the Morse ``potential``."""
    depth, width, r0 = potential[0], potential[1], potential[2]
    x = x0.copy()
    v = v0.copy()
    f = -srcad.grad(energy)(x, depth, width, r0)
    for _ in range(steps):
        v = v + 0.5 * DT * f
        x = x + DT * v
        f = -srcad.grad(energy)(x, depth, width, r0)
        v = v + 0.5 * DT * f
    return x


@srcad.differentiable
def miss(potential, x0, v0, observed, steps):
    """The squared distance of the final positions from the observed ones."""
    return np.sum((simulate(potential, x0, v0, steps) - observed) ** 2)


# -- the same simulation as kernels on a tape ----------------------------------------------------------
@srcad.kernel
def forces(x, potential, f):
    i = srcad.tid()
    fx = 0.0
    fy = 0.0
    for j in range(x.shape[0]):
        if j != i:
            dx = x[i, 0] - x[j, 0]
            dy = x[i, 1] - x[j, 1]
            r = math.sqrt(dx * dx + dy * dy)
            push = -srcad.grad(morse)(r, potential[0], potential[1], potential[2])
            fx += push * dx / r
            fy += push * dy / r
    f[i, 0] = fx
    f[i, 1] = fy


@srcad.kernel
def kick(v, f, dt):
    i = srcad.tid()
    v[i, 0] += dt * f[i, 0]
    v[i, 1] += dt * f[i, 1]


@srcad.kernel
def drift(x, v, dt):
    i = srcad.tid()
    x[i, 0] += dt * v[i, 0]
    x[i, 1] += dt * v[i, 1]


@srcad.kernel
def squared_miss(x, observed, loss):
    i = srcad.tid()
    srcad.atomic_add(loss, 0, (x[i, 0] - observed[i, 0]) ** 2 + (x[i, 1] - observed[i, 1]) ** 2)


class Kernels:
    """``miss`` and its gradient by the kernels, on ``device`` ("cpu" or "cuda"), on one tape."""

    def __init__(self, x0, v0, observed, steps, device):
        self.steps, self.device, self.tape = steps, device, srcad.Tape(checkpoint="auto")
        if device == "cuda":
            from numba import cuda

            self.place, self.fetch = cuda.to_device, lambda a: a.copy_to_host()
        else:
            self.place, self.fetch = np.array, np.asarray
        self.x0, self.v0, self.observed = x0, v0, self.place(observed)

    def run(self, potential, tape=None):
        x, v, f = self.place(self.x0), self.place(self.v0), self.place(np.zeros_like(self.x0))
        parameters, loss = self.place(potential), self.place(np.zeros(1))
        n, launch = len(self.x0), dict(device=self.device)
        with tape if tape is not None else _Nothing():
            forces.launch(n, x, parameters, f, **launch)
            for _ in range(self.steps):
                kick.launch(n, v, f, 0.5 * DT, **launch)
                drift.launch(n, x, v, DT, **launch)
                forces.launch(n, x, parameters, f, **launch)
                kick.launch(n, v, f, 0.5 * DT, **launch)
            squared_miss.launch(n, x, self.observed, loss, **launch)
        return parameters, loss

    def value(self, potential):
        return float(self.fetch(self.run(potential)[1])[0])

    def value_and_gradient(self, potential):
        parameters, loss = self.run(potential, self.tape)
        self.tape.zero()
        self.tape.backward(loss)
        return float(self.fetch(loss)[0]), self.fetch(self.tape.gradient(parameters))


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def atoms(seed):
    """A 4 x 4 patch of atoms near the potential's equilibrium spacing, gently shaken."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(4.0), np.arange(4.0)), axis=-1).reshape(-1, 2) * 1.12
    return grid + 0.05 * rng.standard_normal(grid.shape), 0.3 * rng.standard_normal(grid.shape)


def paths(potential, x0, v0, steps):
    every = max(1, steps // 50)
    return np.array([simulate(potential, x0, v0, k) for k in range(0, steps + 1, every)])


def draw(x0, v0, steps, learned, out):
    plt = pyplot()
    if plt is None:
        return
    figure, axes = plt.subplots(1, 3, figsize=(12, 4), sharex=True, sharey=True)
    for ax, potential, title in ((axes[0], FIRST_GUESS, "first guess"), (axes[1], TRUE_POTENTIAL, "true potential"),
                                 (axes[2], learned, "learned potential")):
        track = paths(potential, x0, v0, steps)
        ax.plot(track[:, :, 0], track[:, :, 1], color="tab:blue", lw=0.8)
        ax.plot(track[-1, :, 0], track[-1, :, 1], "o", color="tab:blue", ms=5)
        ax.set_title(f"{title}: D={potential[0]:.2f}, a={potential[1]:.2f}, r0={potential[2]:.2f}", fontsize=9)
        ax.set_aspect("equal")
    save(figure, out, "md_atoms.png")


def main():
    options = arguments(__doc__.splitlines()[0], steps=200, iters=120, device=True,
                        rate=(0.02, "Adam's learning rate"), kernels=(False, "fit with the kernels on a tape"))
    x0, v0 = atoms(options.seed)
    observed = simulate(TRUE_POTENTIAL, x0, v0, options.steps)
    potential = FIRST_GUESS.copy()
    kernels = Kernels(x0, v0, observed, options.steps, options.device)
    if options.check:
        check_gradient(miss, potential, x0, v0, observed, options.steps, wrt=0)
        check_along(kernels.value, lambda p: kernels.value_and_gradient(p)[1], potential)
    if options.kernels or options.device == "cuda":
        value_and_gradient = kernels.value_and_gradient
    else:
        gradient = srcad.value_and_grad(miss)
        value_and_gradient = lambda p: gradient(p, x0, v0, observed, options.steps)  # noqa: E731
    losses, timer = descend(lambda: value_and_gradient(potential), [potential], options.iters, options.rate, "md")
    plot_loss(losses, options.out, "md")
    draw(x0, v0, options.steps, potential, options.out)
    form = f"kernels, {options.device}" if options.kernels or options.device == "cuda" else "a function"
    summary("md", losses, timer, goal=f"learned D={potential[0]:.3f}, a={potential[1]:.3f}, r0={potential[2]:.3f} "
                                      f"(true {TRUE_POTENTIAL[0]}, {TRUE_POTENTIAL[1]}, {TRUE_POTENTIAL[2]}; {form})")


if __name__ == "__main__":
    main()
