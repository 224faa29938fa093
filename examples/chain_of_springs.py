"""A chain of masses joined by nonlinear springs, simulated with loops over NumPy arrays,
and the gradient of the final spread with respect to the initial positions and the stiffness.

Run it with:  python examples/chain_of_springs.py
"""

import numpy as np

import srcad


@srcad.differentiable
def final_spread(x0, v0, stiffness, dt, steps):
    """Semi-implicit Euler steps of a spring chain; returns the sum of squared final positions."""
    n = x0.shape[0]
    x = x0.copy()
    v = v0.copy()
    force = np.zeros(n)
    for step in range(steps):
        for i in range(n):
            force[i] = -0.05 * v[i]
        for i in range(n - 1):
            stretch = x[i + 1] - x[i] - 1.0
            pull = stiffness * (stretch + 0.1 * stretch * stretch * stretch)
            force[i] += pull
            force[i + 1] -= pull
        for i in range(n):
            v[i] += dt * force[i]
            x[i] += dt * v[i]
    spread = 0.0
    for i in range(n):
        spread += x[i] * x[i]
    return spread


rng = np.random.default_rng(0)
x0 = np.arange(8.0) + 0.1 * rng.normal(size=8)
v0 = np.zeros(8)
value, (dx0, dk) = srcad.value_and_grad(final_spread, wrt=(0, 2))(x0, v0, 2.0, 0.01, 500)
print(f"spread after 500 steps: {value:.6f}")
print("d spread / d x0:", np.array2string(dx0, precision=4))
print(f"d spread / d stiffness: {dk:.6f}")

# the same derivative by central differences of the function itself, for one entry
h = 1e-6
bumped = x0.copy()
bumped[3] += h
lowered = x0.copy()
lowered[3] -= h
estimate = (final_spread(bumped, v0, 2.0, 0.01, 500) - final_spread(lowered, v0, 2.0, 0.01, 500)) / (2 * h)
print(f"check d/dx0[3]: srcad {dx0[3]:.8f}, central differences {estimate:.8f}")
