"""A mass-spring robot learns to walk (after DiffTaichi's mass_spring example).

Six masses joined by eleven springs make a small two-legged box. Every spring is a muscle: its rest
length follows a controller, ``tanh`` of a weighted sum of sine waves. Gravity pulls the masses
down; a mass that reaches the ground stops there (friction holds it), which is what lets the robot
push itself forward. The simulation is one plain function of NumPy arrays with loops and an ``if``
for the contact; srcad differentiates the distance walked with respect to the controller's
weights, through all the steps, and Adam follows that gradient.

Run:  python examples/robot.py [--steps 1000] [--iters 60] [--out out] [--check]

It prints the loss per iteration (the negative distance walked), writes ``robot_loss.png``,
``robot_frames.png`` (the walk before and after training) and ``robot_walk.gif``, and ends with
a one-line summary.
"""

import os

import numpy as np

import srcad
from example_tools import arguments, check_gradient, descend, plot_loss, pyplot, save, summary

DT = 0.002  # seconds per step
GRAVITY = 9.8
MASS = 1.0
STIFFNESS = 1500.0  # per unit of stretch over the rest length
DAMPING = 0.999  # velocity kept per step
STRENGTH = 0.15  # how far a muscle may shorten or lengthen, relative to its rest length
OMEGA = 12.0  # the controller's frequency, radians per second

# The body: masses at the corners of two squares side by side, springs along the edges and diagonals.
MASSES = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [0.0, 0.1], [0.1, 0.1], [0.2, 0.1]])
SPRINGS = np.array([[0, 1], [1, 2], [3, 4], [4, 5], [0, 3], [1, 4], [2, 5], [0, 4], [1, 3], [1, 5], [2, 4]])
REST = np.sqrt(np.sum((MASSES[SPRINGS[:, 1]] - MASSES[SPRINGS[:, 0]]) ** 2, axis=1))
WAVES = 4
PHASES = 2.0 * np.pi * np.arange(WAVES) / WAVES


@srcad.differentiable
def walk(weights, bias, x0, springs, rest, phases, steps):
    """The robot's negative distance walked (the mean horizontal position of its masses at the end)."""
    n = x0.shape[0]
    x = x0.copy()
    v = np.zeros((n, 2))
    force = np.zeros((n, 2))
    for t in range(steps):
        muscles = np.tanh(weights @ np.sin(OMEGA * t * DT + phases) + bias)
        force[:, 0] = 0.0
        force[:, 1] = -GRAVITY * MASS
        for s in range(springs.shape[0]):
            a = springs[s, 0]
            b = springs[s, 1]
            dx = x[b, 0] - x[a, 0]
            dy = x[b, 1] - x[a, 1]
            length = np.sqrt(dx * dx + dy * dy)
            target = rest[s] * (1.0 + STRENGTH * muscles[s])
            pull = STIFFNESS * (length - target) / (target * length)
            force[a, 0] += pull * dx
            force[a, 1] += pull * dy
            force[b, 0] -= pull * dx
            force[b, 1] -= pull * dy
        for i in range(n):
            v[i, 0] = DAMPING * v[i, 0] + DT * force[i, 0] / MASS
            v[i, 1] = DAMPING * v[i, 1] + DT * force[i, 1] / MASS
            if x[i, 1] + DT * v[i, 1] < 0.0 and v[i, 1] < 0.0:  # the ground: the mass stops there
                v[i, 0] = 0.0
                v[i, 1] = 0.0
            x[i, 0] += DT * v[i, 0]
            x[i, 1] += DT * v[i, 1]
    return -(np.mean(x[:, 0]) - np.mean(x0[:, 0]))


def trajectory(weights, bias, steps):
    """Positions at every step, in plain NumPy (for the pictures): the same simulation as ``walk``."""
    x, v = MASSES.copy(), np.zeros_like(MASSES)
    frames = [x.copy()]
    for t in range(steps):
        muscles = np.tanh(weights @ np.sin(OMEGA * t * DT + PHASES) + bias)
        d = x[SPRINGS[:, 1]] - x[SPRINGS[:, 0]]
        length = np.sqrt(np.sum(d * d, axis=1))
        target = REST * (1.0 + STRENGTH * muscles)
        pull = (STIFFNESS * (length - target) / (target * length))[:, None] * d
        force = np.zeros_like(x)
        force[:, 1] = -GRAVITY * MASS
        np.add.at(force, SPRINGS[:, 0], pull)
        np.subtract.at(force, SPRINGS[:, 1], pull)
        v = DAMPING * v + DT * force / MASS
        stops = (x[:, 1] + DT * v[:, 1] < 0.0) & (v[:, 1] < 0.0)
        v[stops] = 0.0
        x = x + DT * v
        frames.append(x.copy())
    return np.array(frames)


def draw(before, after, out):
    plt = pyplot()
    if plt is None:
        return
    figure, axes = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
    for ax, frames, title in ((axes[0], before, "before training"), (axes[1], after, "after training")):
        for k, frame in enumerate(frames[:: max(1, len(frames) // 8)]):
            shade = 0.25 + 0.75 * k / 8
            for a, b in SPRINGS:
                ax.plot(frame[[a, b], 0], frame[[a, b], 1], color=(0.1, 0.3, 0.8, shade), lw=1)
        ax.axhline(0.0, color="k", lw=1)
        ax.set_title(title)
        ax.set_aspect("equal")
    save(figure, out, "robot_frames.png")
    from matplotlib import animation

    figure, ax = plt.subplots(figsize=(6, 2.5))
    low, high = after[:, :, 0].min() - 0.1, after[:, :, 0].max() + 0.1
    ax.set_xlim(low, high)
    ax.set_ylim(-0.05, 0.3)
    ax.set_aspect("equal")
    ax.axhline(0.0, color="k", lw=1)
    lines = [ax.plot([], [], color="tab:blue", lw=2)[0] for _ in SPRINGS]
    shown = after[:: max(1, len(after) // 60)]

    def frame(k):
        for line, (a, b) in zip(lines, SPRINGS):
            line.set_data(shown[k][[a, b], 0], shown[k][[a, b], 1])
        return lines

    path = os.path.join(out, "robot_walk.gif")
    animation.FuncAnimation(figure, frame, frames=len(shown), blit=True).save(path, writer=animation.PillowWriter(fps=20))
    plt.close(figure)
    print(f"wrote {path}")


def first_controller(seed):
    """Small random weights (``seed``) and no bias: the robot barely moves."""
    rng = np.random.default_rng(seed)
    return 0.1 * rng.normal(size=(len(SPRINGS), WAVES)), np.zeros(len(SPRINGS))


def train(weights, bias, steps, iters, rate, bar=False):
    """Adam on the controller (updated in place) for ``iters`` iterations: the losses (the first
    before any step) and the time per gradient (``GradientTimer``); ``bar``: show a progress bar."""
    gradient = srcad.value_and_grad(walk, wrt=(0, 1))
    return descend(lambda: gradient(weights, bias, MASSES, SPRINGS, REST, PHASES, steps), [weights, bias], iters, rate,
                   "robot", bar)


def main():
    options = arguments(__doc__.splitlines()[0], steps=1000, iters=60, rate=(0.05, "Adam's learning rate"))
    weights, bias = first_controller(options.seed)
    if options.check:
        check_gradient(walk, weights, bias, MASSES, SPRINGS, REST, PHASES, min(options.steps, 200), wrt=(0, 1))
    before = trajectory(weights, bias, options.steps)
    losses, timer = train(weights, bias, options.steps, options.iters, options.rate, bar=True)
    after = trajectory(weights, bias, options.steps)
    plot_loss(losses, options.out, "robot", log=False)
    draw(before, after, options.out)
    summary("robot", losses, timer, goal=f"walked {-losses[0]:.3f} -> {-losses[-1]:.3f} m to the right")


if __name__ == "__main__":
    main()
