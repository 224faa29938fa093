"""srcad as a GradBench tool (``python -m benchmarks.gradbench``), driven over the protocol with small
inputs for every eval it implements; answers checked against closed forms, NumPy references and
central differences of those references (the checks GradBench's evals make against their golden
implementations)."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import logsumexp, multigammaln

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def tool():
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.gradbench"], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    counter = iter(range(10**6))

    def send(kind, **fields):
        message = {"id": next(counter), "kind": kind} | fields
        process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()
        response = json.loads(process.stdout.readline())
        assert response["id"] == message["id"]
        return response

    assert send("start")["tool"] == "srcad"
    yield send
    process.stdin.close()
    process.wait(timeout=60)


def evaluate(send, module, function, input, runs=2):
    assert send("define", module=module)["success"]
    response = send("evaluate", module=module, function=function, input=input | {"min_runs": runs, "min_seconds": 0})
    assert response["success"], response.get("error")
    assert len(response["timings"]) >= runs and all(t["name"] == "evaluate" for t in response["timings"])
    return response["output"]


def central(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        out[index] = (f(up) - f(down)) / (2 * h)
    return out


def test_protocol_messages(tool):
    response = tool("define", module="hello")
    assert response["success"] and response["timings"][0]["name"] == "compile"
    assert tool("define", module="no such eval")["success"] is False
    assert tool("analysis", of=1, valid=True) == {"id": 3}
    unknown = tool("evaluate", module="hello", function="cube", input=2.0)
    assert unknown["success"] is False and "cube" in unknown["error"]


def test_hello(tool):
    assert tool("define", module="hello")["success"]
    assert tool("evaluate", module="hello", function="square", input=3.0)["output"] == 9.0
    assert tool("evaluate", module="hello", function="double", input=3.0)["output"] == 6.0


def test_lse(tool):
    x = np.random.default_rng(1).uniform(-100, 100, size=50)
    assert evaluate(tool, "lse", "primal", {"x": x.tolist()}) == pytest.approx(logsumexp(x), rel=1e-14)
    softmax = np.exp(x - logsumexp(x))  # the gradient in closed form
    np.testing.assert_allclose(evaluate(tool, "lse", "gradient", {"x": x.tolist()}), softmax, rtol=1e-12, atol=1e-300)


def test_llsq(tool):
    x, n = np.random.default_rng(2).normal(size=6), 9
    t = -1.0 + 2.0 * np.arange(n) / (n - 1.0)
    powers = t[:, None] ** np.arange(len(x))[None, :]
    residual = np.sign(t) - powers @ x
    assert evaluate(tool, "llsq", "primal", {"x": x.tolist(), "n": n}) == pytest.approx(0.5 * residual @ residual, rel=1e-12)
    np.testing.assert_allclose(evaluate(tool, "llsq", "gradient", {"x": x.tolist(), "n": n}), -powers.T @ residual, rtol=1e-10)


def ode_reference(x, s):
    def rates(y):
        return np.concatenate([[x[0]], x[1:] * y[:-1]])

    h, y = 2.0 / s, np.zeros_like(x)
    for _ in range(s):
        k1 = rates(y)
        k2 = rates(y + h / 2 * k1)
        k3 = rates(y + h / 2 * k2)
        k4 = rates(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def test_ode(tool):
    x, s = np.array([0.7, 1.1, -0.4, 0.9]), 25
    np.testing.assert_allclose(evaluate(tool, "ode", "primal", {"x": x.tolist(), "s": s}), ode_reference(x, s), rtol=1e-12)
    np.testing.assert_allclose(evaluate(tool, "ode", "gradient", {"x": x.tolist(), "s": s}),
                               central(lambda a: ode_reference(a, s)[-1], x), rtol=1e-6, atol=1e-9)


def test_kmeans(tool):
    rng = np.random.default_rng(3)
    points, centroids = rng.normal(size=(40, 3)), rng.normal(size=(4, 3))
    distances = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
    input = {"points": points.tolist(), "centroids": centroids.tolist()}
    assert evaluate(tool, "kmeans", "cost", input) == pytest.approx(distances.min(axis=1).sum(), rel=1e-12)
    nearest = distances.argmin(axis=1)
    expected = np.array([(len(points[nearest == c]) * centroids[c] - points[nearest == c].sum(axis=0)) / len(points[nearest == c])
                         for c in range(4)])  # Newton's step: the gradient over 2 x the count
    np.testing.assert_allclose(evaluate(tool, "kmeans", "dir", input), expected, rtol=1e-10)


def gmm_reference(alpha, mu, q, l, x, gamma, m):
    """ADBench's objective, by its definition: log mixture likelihood plus the Wishart log prior."""
    n, d = x.shape
    k = len(alpha)
    total = 0.0
    for i in range(n):
        terms = []
        for c in range(k):
            Q = np.diag(np.exp(q[c]))
            below = iter(l[c])  # the strictly lower triangle, column by column
            for col in range(d):
                for row in range(col + 1, d):
                    Q[row, col] = next(below)
            z = Q @ (x[i] - mu[c])
            terms.append(alpha[c] + q[c].sum() - 0.5 * z @ z)
        total += logsumexp(terms)
    dof = d + m + 1
    prior = sum(0.5 * gamma**2 * (np.sum(np.exp(2 * q[c])) + np.sum(l[c] ** 2)) - m * q[c].sum() for c in range(k))
    constant = -n * d * 0.5 * math.log(2 * math.pi) + k * (dof * d * math.log(gamma / math.sqrt(2)) - multigammaln(0.5 * dof, d))
    return constant + total - n * logsumexp(alpha) - prior


def test_gmm(tool):
    rng = np.random.default_rng(4)
    d, k, n, m, gamma = 3, 2, 5, 1, 1.3
    parts = {"alpha": rng.normal(size=k), "mu": rng.normal(size=(k, d)), "q": 0.3 * rng.normal(size=(k, d)),
             "l": rng.normal(size=(k, d * (d - 1) // 2))}
    x = rng.normal(size=(n, d))
    input = {"d": d, "k": k, "n": n, "m": m, "gamma": gamma, "x": x.tolist()} | {p: v.tolist() for p, v in parts.items()}
    reference = lambda **changed: gmm_reference(**(parts | changed), x=x, gamma=gamma, m=m)  # noqa: E731
    assert evaluate(tool, "gmm", "objective", input) == pytest.approx(reference(), rel=1e-12)
    jacobian = evaluate(tool, "gmm", "jacobian", input)
    for name, value in parts.items():
        np.testing.assert_allclose(jacobian[name], central(lambda v, name=name: reference(**{name: v}), value),
                                   rtol=1e-6, atol=1e-8, err_msg=name)


# particle and saddle take derivatives inside the function differentiated (nested derivatives), in
# the four combinations of forward and reverse mode; the values are GradBench's (its eval scripts
# hold them, from Pearlmutter and Siskind's benchmark run by GradBench's other tools)
PARTICLE_W = 0.2071918746486116
SADDLE_POINT = [8.246324826140356e-06] * 4


@pytest.mark.parametrize("function", ["rr", "ff", "fr", "rf"])
def test_particle(tool, function):
    assert evaluate(tool, "particle", function, {"w": 0.0}, runs=1) == pytest.approx(PARTICLE_W, abs=1e-9)


@pytest.mark.parametrize("function", ["rr", "ff", "fr", "rf"])
def test_saddle(tool, function):
    point = evaluate(tool, "saddle", function, {"start": [1.0, 1.0]}, runs=1)
    np.testing.assert_allclose(point, SADDLE_POINT, rtol=1e-6, atol=1e-12)


def lstm_reference(main, extra, state, sequence):
    """ADBench's LSTM loss, in NumPy, a layer's gates as whole rows."""
    layers, b = main.shape[0] // 2, main.shape[1] // 4
    s = state.copy()
    sigmoid = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        entering = sequence[t] * extra[0]
        for k in range(layers):
            w, bias = main[2 * k].reshape(4, b), main[2 * k + 1].reshape(4, b)
            hidden, cell = s[2 * k], s[2 * k + 1]
            forget, outgate = sigmoid(entering * w[0] + bias[0]), sigmoid(entering * w[2] + bias[2])
            ingate, change = sigmoid(hidden * w[1] + bias[1]), np.tanh(hidden * w[3] + bias[3])
            s[2 * k + 1] = cell * forget + ingate * change
            s[2 * k] = outgate * np.tanh(s[2 * k + 1])
            entering = s[2 * k]
        prediction = entering * extra[1] + extra[2]
        total += np.sum(sequence[t + 1] * (prediction - np.log(np.sum(np.exp(prediction)) + 2.0)))
    return -total / ((sequence.shape[0] - 1) * b)


def test_lstm(tool):
    rng = np.random.default_rng(5)
    layers, b, c = 2, 3, 6
    main, extra = rng.random((2 * layers, 4 * b)), rng.random((3, b))
    state, sequence = rng.random((2 * layers, b)), rng.integers(0, 2, (c, b)).astype(float)
    message = {"main_params": main.tolist(), "extra_params": extra.tolist(), "state": state.tolist(),
               "sequence": sequence.tolist()}
    assert evaluate(tool, "lstm", "objective", message) == pytest.approx(lstm_reference(main, extra, state, sequence),
                                                                           rel=1e-12)
    gradient = np.array(evaluate(tool, "lstm", "jacobian", message))
    expected = np.concatenate([central(lambda m: lstm_reference(m, extra, state, sequence), main).ravel(),
                               central(lambda e: lstm_reference(main, e, state, sequence), extra).ravel()])
    np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-9)


def ba_reference(camera, point, weight, feature):
    """One observation's two errors, from ADBench's formulas written out here with NumPy."""
    rotation = camera[:3]
    angle = np.linalg.norm(rotation)
    moved = point - camera[3:6]
    if angle != 0.0:
        axis = rotation / angle
        seen = (moved * math.cos(angle) + np.cross(axis, moved) * math.sin(angle)
                + axis * np.dot(axis, moved) * (1.0 - math.cos(angle)))
    else:
        seen = moved + np.cross(rotation, moved)
    projection = seen[:2] / seen[2]
    radius_squared = np.dot(projection, projection)
    projection = projection * (1.0 + camera[9] * radius_squared + camera[10] * radius_squared ** 2)
    return weight * (projection * camera[6] + camera[7:9] - feature)


@pytest.mark.parametrize("rotation", [[0.3, -0.2, 0.4], [0.0, 0.0, 0.0]])
def test_ba(tool, rotation):
    camera = np.array(rotation + [0.1, 0.2, -4.0, 1.3, 0.05, -0.02, 0.01, 0.002])
    point, weight, feature = np.array([0.4, -0.3, 2.0]), 0.8, np.array([0.2, -0.1])
    message = {"n": 3, "m": 4, "p": 7, "cam": camera.tolist(), "x": point.tolist(), "w": weight, "feat": feature.tolist()}
    errors = evaluate(tool, "ba", "objective", message)
    np.testing.assert_allclose(errors["reproj_error"]["elements"], ba_reference(camera, point, weight, feature), rtol=1e-12)
    assert errors["reproj_error"]["repeated"] == 7 and errors["w_err"] == {"element": 1.0 - weight ** 2, "repeated": 7}
    sparse = evaluate(tool, "ba", "jacobian", message)
    columns = list(range(11)) + [33, 34, 35, 45]  # camera 0, point 0 (after 3 cameras), weight 0 (after 4 points)
    assert sparse["rows"] == [15 * k for k in range(30)] + [30 * 7 + 7] and sparse["cols"] == columns * 2 + [45 + 6]
    blocks = [central(lambda c: ba_reference(c, point, weight, feature)[row], camera) for row in (0, 1)]
    for row in (0, 1):
        expected = np.concatenate([blocks[row], central(lambda x: ba_reference(camera, x, weight, feature)[row], point),
                                   [ba_reference(camera, point, 1.0, feature)[row]]])
        np.testing.assert_allclose(sparse["vals"][15 * row:15 * row + 15], expected, rtol=1e-6, atol=1e-8)
    assert sparse["vals"][-1] == -2.0 * weight
