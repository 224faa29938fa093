"""GradBench's ``lstm`` eval (from ADBench): the loss of an l-layer LSTM with diagonal weights predicting
each character of a text (bits per character b, c characters) from the previous one, and its gradient
with respect to the main and extra parameters, flattened row by row and concatenated."""

import math

import numpy as np

import srcad


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@srcad.differentiable
def objective(main_params, extra_params, state, sequence):
    """main_params: rows 2k (weights) and 2k + 1 (biases) of layer k, each the forget, input, output and
    change gates' b values; extra_params: the input weights, output weights and output biases; state:
    rows 2k (hidden) and 2k + 1 (cell) of layer k; sequence: one row of bits per character."""
    layers = main_params.shape[0] // 2
    b = main_params.shape[1] // 4
    s = state.copy()
    prediction = np.zeros(b)
    total = 0.0
    for t in range(sequence.shape[0] - 1):
        for i in range(b):
            prediction[i] = sequence[t, i] * extra_params[0, i]
        for k in range(layers):
            for i in range(b):
                if k == 0:
                    entering = prediction[i]
                else:
                    entering = s[2 * k - 2, i]
                forget = sigmoid(entering * main_params[2 * k, i] + main_params[2 * k + 1, i])
                ingate = sigmoid(s[2 * k, i] * main_params[2 * k, b + i] + main_params[2 * k + 1, b + i])
                outgate = sigmoid(entering * main_params[2 * k, 2 * b + i] + main_params[2 * k + 1, 2 * b + i])
                change = math.tanh(s[2 * k, i] * main_params[2 * k, 3 * b + i] + main_params[2 * k + 1, 3 * b + i])
                s[2 * k + 1, i] = s[2 * k + 1, i] * forget + ingate * change
                s[2 * k, i] = outgate * math.tanh(s[2 * k + 1, i])
        for i in range(b):
            prediction[i] = s[2 * layers - 2, i] * extra_params[1, i] + extra_params[2, i]
        sum_exp = 2.0
        for i in range(b):
            sum_exp += math.exp(prediction[i])
        lse = math.log(sum_exp)
        for i in range(b):
            total += sequence[t + 1, i] * (prediction[i] - lse)
    return -total / ((sequence.shape[0] - 1) * b)


gradient = srcad.grad(objective, wrt=(0, 1))


def jacobian(main_params, extra_params, state, sequence):
    main, extra = gradient(main_params, extra_params, state, sequence)
    return np.concatenate([main.ravel(), extra.ravel()])


def prepare(input):
    return tuple(np.array(input[name], dtype=np.float64) for name in ("main_params", "extra_params", "state", "sequence"))


def compile():
    rng = np.random.default_rng(0)
    args = (rng.random((4, 12)), rng.random((3, 3)), rng.random((4, 3)), rng.integers(0, 2, (5, 3)).astype(np.float64))
    objective(*args)
    jacobian(*args)


FUNCTIONS = {"objective": (objective, float), "jacobian": (jacobian, lambda g: g.tolist())}
