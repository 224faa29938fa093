"""Fitting an ODE's parameters to data with SciPy: ``scipy.optimize.minimize`` with srcad's gradient.

Predators and prey (the Lotka-Volterra equations) are counted 40 times over 20 time units, with
noise. The four rates of the model (their logarithms) are found by L-BFGS-B minimising the squared
misfit of an RK4 simulation, the gradient by srcad (``jac=srcad.grad(misfit)``) through every RK4 step and
the helper computing the rates of change.

Run:  python examples/ode_fit.py [--steps 20] [--iters 100] [--out out] [--check]

``--steps``: RK4 steps between two counts. Writes ``ode_loss.png`` and ``ode_fit.png`` (the data,
the first guess and the fitted model).
"""

import numpy as np
from scipy.optimize import minimize

import srcad
from example_tools import GradientTimer, arguments, check_gradient, iterations, plot_loss, pyplot, save, show_loss, summary

COUNTS, SPAN = 40, 20.0
START_PREY, START_PREDATORS = 10.0, 5.0  # at time 0


def rates_of_change(prey, predators, rates):
    growth, eaten, fed, dying = rates[0], rates[1], rates[2], rates[3]
    return growth * prey - eaten * prey * predators, fed * prey * predators - dying * predators


def rk4_step(prey, predators, rates, dt):
    """One classical Runge-Kutta step (srcad inlines this helper where ``misfit`` calls it)."""
    a1, b1 = rates_of_change(prey, predators, rates)
    a2, b2 = rates_of_change(prey + 0.5 * dt * a1, predators + 0.5 * dt * b1, rates)
    a3, b3 = rates_of_change(prey + 0.5 * dt * a2, predators + 0.5 * dt * b2, rates)
    a4, b4 = rates_of_change(prey + dt * a3, predators + dt * b3, rates)
    return prey + dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4), predators + dt / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)


@srcad.differentiable
def misfit(log_rates, counted, substeps):
    """Squared differences between the counts and an RK4 simulation with rates ``exp(log_rates)``
    (fitting their logarithms keeps them positive, and their scales alike)."""
    rates = np.exp(log_rates)
    dt = SPAN / (counted.shape[0] * substeps)
    prey, predators = START_PREY, START_PREDATORS
    loss = 0.0
    for k in range(counted.shape[0]):
        for s in range(substeps):
            prey, predators = rk4_step(prey, predators, rates, dt)
        loss += (prey - counted[k, 0]) ** 2 + (predators - counted[k, 1]) ** 2
    return loss


def simulated(rates, substeps, counts=COUNTS):
    """The populations at each count (plain Python: the data and the pictures)."""
    dt = SPAN / (counts * substeps)
    prey, predators = START_PREY, START_PREDATORS
    out = []
    for _ in range(counts):
        for _ in range(substeps):
            prey, predators = rk4_step(prey, predators, rates, dt)
        out.append((prey, predators))
    return np.array(out)


def draw(counted, first, fitted, substeps, out):
    plt = pyplot()
    if plt is None:
        return
    times = SPAN * np.arange(1, COUNTS + 1) / COUNTS
    fine = SPAN * np.arange(1, 4 * COUNTS + 1) / (4 * COUNTS)
    figure, ax = plt.subplots(figsize=(7, 3.5))
    for column, (name, color) in enumerate((("prey", "tab:green"), ("predators", "tab:red"))):
        ax.plot(times, counted[:, column], "o", color=color, ms=4, label=f"{name} counted")
        ax.plot(fine, simulated(first, max(1, substeps // 4), 4 * COUNTS)[:, column], ":", color=color, label="first guess")
        ax.plot(fine, simulated(fitted, max(1, substeps // 4), 4 * COUNTS)[:, column], "-", color=color, label="fitted")
    ax.set_xlabel("time")
    ax.legend(fontsize=7, ncol=3)
    save(figure, out, "ode_fit.png")


def main():
    options = arguments(__doc__.splitlines()[0], steps=20, iters=100)
    rng = np.random.default_rng(options.seed)
    true_rates = np.array([1.1, 0.4, 0.1, 0.4])
    counted = simulated(true_rates, options.steps) + rng.normal(scale=0.3, size=(COUNTS, 2))
    first = np.array([0.8, 0.3, 0.15, 0.6])
    if options.check:
        check_gradient(misfit, np.log(first), counted, options.steps, wrt=0)
    timer, losses = GradientTimer(), [misfit(np.log(first), counted, options.steps)]
    bar = iterations(options.iters, "ode fit")
    gradient = srcad.grad(misfit)

    def jac(rates, counted, substeps):
        return timer(gradient, rates, counted, substeps)

    def after_each(intermediate_result):  # (SciPy passes the OptimizeResult to a parameter of this name)
        losses.append(intermediate_result.fun)
        show_loss(bar, intermediate_result.fun)
        if hasattr(bar, "update"):
            bar.update(1)

    within_twice = [(np.log(r / 2.0), np.log(r * 2.0)) for r in first]  # each rate known to a factor of two
    fit = minimize(misfit, np.log(first), args=(counted, options.steps), jac=jac, method="L-BFGS-B",
                   bounds=within_twice, options={"maxiter": options.iters}, callback=after_each)
    if hasattr(bar, "close"):
        bar.close()
    fitted = np.exp(fit.x)
    print(f"L-BFGS-B: {fit.message}; rates {np.array2string(fitted, precision=3)} (true {true_rates})")
    plot_loss(losses, options.out, "ode")
    draw(counted, first, fitted, options.steps, options.out)
    summary("ode fit", losses, timer, goal=f"largest rate error {np.max(np.abs(fitted - true_rates)):.3f}")


if __name__ == "__main__":
    main()
