"""Billiards: the cue ball's velocity is optimised so that a target ball stops at a goal.

Three balls on a table (the cue ball, the target, one more ball in the way or not) roll with
friction and collide elastically. Collisions are found at the end of each step and resolved at
their time of impact within the step (the exact time two balls touch, from a quadratic), so the
final positions depend smoothly on the cue's velocity as long as the same balls meet: srcad
differentiates the target's miss through the collisions, and gradient descent aims the shot.

Run:  python examples/billiards.py [--steps 400] [--iters 150] [--out out] [--check]

Writes ``billiards_loss.png`` and ``billiards_paths.png`` (the balls' paths, first shot and
found), and ``billiards_shot.gif``.
"""

import os

import numpy as np

import srcad
from example_tools import arguments, check_gradient, descend, plot_loss, pyplot, save, summary

DT = 0.005
RADIUS = 0.03
FRICTION = 0.998  # velocity kept per step
START = np.array([[0.0, 0.0], [0.8, 0.04], [1.2, -0.3]])  # the cue ball, the target, another ball
GOAL = np.array([1.6, 0.35])
TARGET = 1


@srcad.differentiable
def play(cue_velocity, x0, steps):
    """The balls' positions and velocities after ``steps``, the cue ball struck with ``cue_velocity``."""
    n = x0.shape[0]
    x = x0.copy()
    v = np.zeros((n, 2))
    v[0, 0] = cue_velocity[0]
    v[0, 1] = cue_velocity[1]
    for t in range(steps):
        x_next = x + DT * v
        for i in range(n):
            for j in range(i + 1, n):
                rx = x[j, 0] - x[i, 0]
                ry = x[j, 1] - x[i, 1]
                ux = v[j, 0] - v[i, 0]
                uy = v[j, 1] - v[i, 1]
                ex = x_next[j, 0] - x_next[i, 0]
                ey = x_next[j, 1] - x_next[i, 1]
                if ex * ex + ey * ey < 4.0 * RADIUS * RADIUS and rx * ux + ry * uy < 0.0:
                    # they touch during this step, at s: |r + s u| = 2 RADIUS
                    a = ux * ux + uy * uy
                    b = rx * ux + ry * uy
                    c = rx * rx + ry * ry - 4.0 * RADIUS * RADIUS
                    s = (-b - np.sqrt(b * b - a * c)) / a
                    nx = (rx + s * ux) / (2.0 * RADIUS)
                    ny = (ry + s * uy) / (2.0 * RADIUS)
                    exchanged = ux * nx + uy * ny  # equal masses: the velocities' normal parts swap
                    v[i, 0] += exchanged * nx
                    v[i, 1] += exchanged * ny
                    v[j, 0] -= exchanged * nx
                    v[j, 1] -= exchanged * ny
                    x_next[i, 0] = x[i, 0] + s * (v[i, 0] - exchanged * nx) + (DT - s) * v[i, 0]
                    x_next[i, 1] = x[i, 1] + s * (v[i, 1] - exchanged * ny) + (DT - s) * v[i, 1]
                    x_next[j, 0] = x[j, 0] + s * (v[j, 0] + exchanged * nx) + (DT - s) * v[j, 0]
                    x_next[j, 1] = x[j, 1] + s * (v[j, 1] + exchanged * ny) + (DT - s) * v[j, 1]
        x = x_next
        v = FRICTION * v
    return x, v


@srcad.differentiable
def miss(cue_velocity, x0, goal, steps):
    """The squared distance of the target ball from the goal at the end."""
    x, v = play(cue_velocity, x0, steps)
    return (x[TARGET, 0] - goal[0]) ** 2 + (x[TARGET, 1] - goal[1]) ** 2


def paths(cue_velocity, steps):
    """Every ball's position at every step (for the pictures), by the same function, step by step."""
    return np.array([play(cue_velocity, START, k)[0] for k in range(0, steps + 1, max(1, steps // 100))])


def draw(first, found, out):
    plt = pyplot()
    if plt is None:
        return
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, track, title in ((axes[0], first, "first shot"), (axes[1], found, "found shot")):
        for ball, color in enumerate(("0.3", "tab:red", "tab:blue")):
            ax.plot(track[:, ball, 0], track[:, ball, 1], color=color, lw=1.5)
            ax.add_patch(plt.Circle(track[-1, ball], RADIUS, color=color))
        ax.plot(*GOAL, "x", color="k", ms=10, mew=2)
        ax.set_title(title)
        ax.set_aspect("equal")
    save(figure, out, "billiards_paths.png")
    from matplotlib import animation

    figure, ax = plt.subplots(figsize=(6, 3.5))
    ax.set_xlim(found[:, :, 0].min() - 0.1, found[:, :, 0].max() + 0.1)
    ax.set_ylim(found[:, :, 1].min() - 0.1, found[:, :, 1].max() + 0.1)
    ax.set_aspect("equal")
    ax.plot(*GOAL, "x", color="k", ms=10, mew=2)
    balls = [ax.add_patch(plt.Circle(found[0, b], RADIUS, color=c)) for b, c in enumerate(("0.3", "tab:red", "tab:blue"))]

    def frame(k):
        for ball, circle in enumerate(balls):
            circle.center = found[k, ball]
        return balls

    path = os.path.join(out, "billiards_shot.gif")
    animation.FuncAnimation(figure, frame, frames=len(found), blit=True).save(path, writer=animation.PillowWriter(fps=25))
    plt.close(figure)
    print(f"wrote {path}")


def main():
    options = arguments(__doc__.splitlines()[0], steps=400, iters=150, rate=(0.01, "Adam's learning rate"))
    cue_velocity = np.array([2.0, 0.0])  # straight at the target: it is hit, off-centre
    if options.check:
        check_gradient(miss, cue_velocity, START, GOAL, options.steps, wrt=0)
    first = paths(cue_velocity, options.steps)
    gradient = srcad.value_and_grad(miss)
    losses, timer = descend(lambda: gradient(cue_velocity, START, GOAL, options.steps), [cue_velocity], options.iters,
                            options.rate, "billiards")
    found = paths(cue_velocity, options.steps)
    plot_loss(losses, options.out, "billiards")
    draw(first, found, options.out)
    summary("billiards", losses, timer, goal=f"cue velocity {np.array2string(cue_velocity, precision=3)}, the target "
                                             f"{np.sqrt(losses[-1]) * 100:.1f} cm from the goal")


if __name__ == "__main__":
    main()
