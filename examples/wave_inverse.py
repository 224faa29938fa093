"""A wave inverse problem: recover the initial shape of a string from what a few sensors recorded.

A string of 128 points starts at rest in an unknown shape and vibrates (the 1-D wave equation,
leapfrog steps on NumPy slices). Eight sensors record its displacement at every step. From those
records alone, Adam recovers the initial shape, following srcad's gradient of the misfit (the
squared differences between what the simulation and the sensors record) through every step, with
a small penalty on roughness.

Run:  python examples/wave_inverse.py [--steps 300] [--iters 150] [--out out] [--check]

Writes ``wave_loss.png`` and ``wave_shape.png`` (the true, first and recovered shapes, and the
space-time pictures of the true and recovered waves).
"""

import numpy as np

import srcad
from example_tools import arguments, check_gradient, descend, plot_loss, pyplot, save, summary

POINTS = 128
SPEED = 0.5  # grid points per step (at most 1 for leapfrog to be stable)
SMOOTHING = 1e-3


@srcad.differentiable
def misfit(u0, sensors, recorded, steps):
    """The squared misfit between the sensors' records and those of a string starting at rest as u0,
    plus a penalty on u0's roughness."""
    n = u0.shape[0]
    u_before = u0.copy()
    u = u0.copy()
    loss = 0.0
    for t in range(steps):
        bend = np.zeros(n)
        bend[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u_after = 2.0 * u - u_before + SPEED * SPEED * bend
        u_before = u
        u = u_after
        for k in range(sensors.shape[0]):
            difference = u[sensors[k]] - recorded[t, k]
            loss += difference * difference
    roughness = np.sum((u0[1:] - u0[:-1]) ** 2)
    return loss + SMOOTHING * roughness


def wave(u0, steps):
    """The displacement at every step (for the records and the pictures), in plain NumPy."""
    u_before, u = u0.copy(), u0.copy()
    history = [u0.copy()]
    for _ in range(steps):
        bend = np.zeros_like(u)
        bend[1:-1] = u[2:] - 2.0 * u[1:-1] + u[:-2]
        u_before, u = u, 2.0 * u - u_before + SPEED * SPEED * bend
        history.append(u.copy())
    return np.array(history)


def true_shape():
    s = np.linspace(0.0, 1.0, POINTS)
    return np.exp(-((s - 0.3) / 0.05) ** 2) - 0.6 * np.exp(-((s - 0.65) / 0.08) ** 2)


def draw(truth, first, found, steps, out):
    plt = pyplot()
    if plt is None:
        return
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    axes[0].plot(truth, "k", lw=2, label="true")
    axes[0].plot(first, ":", label="first guess")
    axes[0].plot(found, "--", color="tab:red", label="recovered")
    axes[0].set_title("initial shape")
    axes[0].legend()
    for ax, shape, title in ((axes[1], truth, "true wave"), (axes[2], found, "recovered wave")):
        ax.imshow(wave(shape, steps), aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1, origin="lower")
        ax.set_xlabel("point")
        ax.set_ylabel("step")
        ax.set_title(title)
    save(figure, out, "wave_shape.png")


def main():
    options = arguments(__doc__.splitlines()[0], steps=300, iters=150, rate=(0.02, "Adam's learning rate"))
    sensors = np.arange(8, POINTS, POINTS // 8)
    truth = true_shape()
    recorded = wave(truth, options.steps)[1:, sensors]
    u0 = np.zeros(POINTS)
    first = u0.copy()
    if options.check:
        check_gradient(misfit, np.random.default_rng(options.seed).normal(size=POINTS) * 0.1, sensors, recorded,
                       options.steps, wrt=0)
    gradient = srcad.value_and_grad(misfit)
    losses, timer = descend(lambda: gradient(u0, sensors, recorded, options.steps), [u0], options.iters, options.rate, "wave")
    plot_loss(losses, options.out, "wave")
    draw(truth, first, u0, options.steps, options.out)
    error = np.sqrt(np.mean((u0 - truth) ** 2)) / np.sqrt(np.mean(truth**2))
    summary("wave", losses, timer, goal=f"initial shape recovered to {100 * error:.1f}% (rms)")


if __name__ == "__main__":
    main()
