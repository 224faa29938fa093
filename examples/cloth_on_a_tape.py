"""A string of masses written as kernels (one thread per mass), simulated with launches recorded on
a srcad.Tape, and the springs' stiffness found by Gauss-Newton steps on the tape's gradient: the
string, hanging under gravity, should end 10 units below its unstretched length.

Run it with:  python examples/cloth_on_a_tape.py            (on the CPU)
              python examples/cloth_on_a_tape.py cuda       (on a CUDA GPU, or in numba's simulator
                                                             with NUMBA_ENABLE_CUDASIM=1)
"""

import sys

import numpy as np

import srcad

N, STEPS, DT, GRAVITY, DAMPING = 32, 400, 0.01, 9.81, 2.0


@srcad.kernel
def step(y, v, k, y_out, v_out, dt):
    i = srcad.tid()
    if i == 0:  # the top mass is held
        y_out[i] = y[i]
        v_out[i] = 0.0
        return
    f = -GRAVITY - DAMPING * v[i] + k[0] * (y[i - 1] - y[i] - 0.1)
    if i < y.shape[0] - 1:
        f -= k[0] * (y[i] - y[i + 1] - 0.1)
    v_out[i] = v[i] + dt * f
    y_out[i] = y[i] + dt * v_out[i]


@srcad.kernel
def miss(y, target, loss):
    i = srcad.tid()
    if i == y.shape[0] - 1:
        srcad.atomic_add(loss, 0, (y[i] - target) ** 2)


def main(device):
    if device == "cuda":
        from numba import cuda

        place = cuda.to_device
    else:
        place = np.asarray
    stiffness = 200.0
    target = -0.1 * (N - 1) - 10.0
    ys, vs = np.zeros((STEPS + 1, N)), np.zeros((STEPS + 1, N))
    ys[0] = -0.1 * np.arange(N)
    tape = srcad.Tape()
    for iteration in range(8):
        ys_d, vs_d, k, loss = place(ys), place(vs), place(np.array([stiffness])), place(np.zeros(1))
        with tape:
            for t in range(STEPS):
                step.launch(N, ys_d[t], vs_d[t], k, ys_d[t + 1], vs_d[t + 1], DT, device=device)
            miss.launch(N, ys_d[STEPS], target, loss, device=device)
        tape.zero()
        tape.backward(loss)
        value = float(np.asarray(loss.copy_to_host() if device == "cuda" else loss)[0])
        slope = tape.gradient(k)
        slope = float(np.asarray(slope.copy_to_host() if device == "cuda" else slope)[0])
        print(f"iteration {iteration}: stiffness {stiffness:9.4f}, miss {value:.3e}, d miss / d stiffness {slope:+.3e}")
        if value < 1e-20:
            break
        # Gauss-Newton on the end's offset r: miss = r**2, so r / (dr/dk) = 2 miss / (d miss / dk)
        stiffness -= max(-0.5 * stiffness, min(0.5 * stiffness, 2.0 * value / slope))
    print(f"end of the string rests at {float(np.asarray(ys_d[STEPS].copy_to_host() if device == 'cuda' else ys_d[STEPS])[-1]):.4f}"
          f" (target {target:.4f})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cpu")
