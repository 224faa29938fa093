"""``@srcad.derivative(of=f)``: the user's rule wins over transforming f, at call sites and for f itself.

The straight-through rule below gives a derivative central differences cannot (floor has
derivative 0 almost everywhere), so it is checked against the closed form it defines; the stable
softplus rule against central differences; bad rules are refused naming the rule and f."""

import math

import numpy as np
import pytest

import srcad

if __package__:
    from . import oracles
else:
    import oracles


def quantize(x):
    return math.floor(4.0 * x) / 4.0


@srcad.derivative(of=quantize)
def quantize_vjp(x, g):
    return (g,)  # straight through: as if quantize were the identity


def softplus(x):
    return math.log(1.0 + math.exp(x))


@srcad.derivative(of=softplus)
def softplus_vjp(x, g):
    return (g / (1.0 + math.exp(-x)),)


@srcad.derivative(of=softplus, mode="forward")
def softplus_jvp(x, x_dot):
    return x_dot / (1.0 + math.exp(-x))


def quantized_loss(x, w):
    s = 0.0
    for i in range(3):
        s += quantize(x * w + i) * softplus(x - i)
    return s


def _sigmoid(t):
    return 1.0 / (1.0 + math.exp(-t))


def test_a_straight_through_rule_is_used_instead_of_the_body():
    x, w = 0.3, 1.7
    dx, dw = srcad.grad(quantized_loss, wrt=(0, 1))(x, w)
    # closed form with quantize' = 1 (the rule), softplus' = sigmoid
    expected_dx = sum(w * softplus(x - i) + quantize(x * w + i) * _sigmoid(x - i) for i in range(3))
    expected_dw = sum(x * softplus(x - i) for i in range(3))
    assert dx == pytest.approx(expected_dx, rel=1e-13)
    assert dw == pytest.approx(expected_dw, rel=1e-13)
    assert srcad.grad(quantize)(0.3) == 1.0  # f itself: its rule


def stable_energy(x):
    e = 0.0
    for i in range(x.shape[0]):
        e += softplus(x[i] * (i + 1.0)) ** 2
    return e


def test_rules_in_reverse_and_forward_mode_match_central_differences():
    x = np.array([0.4, -1.3, 2.2])
    gradient = srcad.grad(stable_energy)(x)
    for k in range(3):
        def along(t, k=k):
            moved = x.copy()
            moved[k] = t
            return stable_energy(moved)

        assert gradient[k] == pytest.approx(oracles.central_difference(along, (float(x[k]),), 0), rel=1e-8)
    v = np.array([1.0, -0.5, 0.25])
    _, tangent = srcad.jvp(stable_energy, (x,), (v,))
    assert tangent == pytest.approx(float(gradient @ v), rel=1e-12)
    assert srcad.jvp(softplus, (0.7,), (2.0,))[1] == pytest.approx(2.0 * _sigmoid(0.7), rel=1e-14)


def test_forward_mode_through_a_call_without_a_forward_rule_is_refused_at_the_call():
    with pytest.raises(srcad.DifferentiabilityError, match="forward-mode rule") as caught:
        srcad.jvp(quantized_loss, (0.3, 1.7), (1.0, 0.0))
    message = str(caught.value)  # names the user's function and how to register the rule, not a generated name
    assert "'quantize' has a reverse-mode rule" in message and "mode='forward'" in message
    assert "quantize_custom" not in message


def shifted(x, y):
    return x + 2.0 * y


def test_a_rule_with_the_wrong_arity_is_refused_naming_the_rule_and_f():
    with pytest.raises(TypeError, match=r"shifted_vjp' for 'shifted' takes 2 arguments; it must take 3"):
        @srcad.derivative(of=shifted)
        def shifted_vjp(x, g):
            return (g, 2.0 * g)


def scaled(x, y):
    return x * y


@srcad.derivative(of=scaled)
def scaled_vjp(x, y, g):
    return (g * y,)  # one cotangent short


def uses_scaled(x, y):
    return scaled(x, y) + x


def test_a_rule_returning_the_wrong_number_of_cotangents_is_refused_naming_it():
    with pytest.raises(TypeError, match="'scaled_vjp' for 'scaled' must return a tuple of 2 cotangents"):
        srcad.grad(scaled)(1.0, 2.0)
    with pytest.raises(srcad.DifferentiabilityError,  # called from another function: named too, at the call's line
                       match="'scaled_vjp' for 'scaled' must return a tuple of 2 cotangents") as caught:
        srcad.grad(uses_scaled)(1.0, 2.0)
    assert caught.value.source_line.strip() == "return scaled(x, y) + x"
    assert "a bug in srcad" not in str(caught.value)


def floor_and_a_half(x):
    return math.floor(x) + 0.5 * x


@srcad.derivative(of=floor_and_a_half)
def floor_and_a_half_vjp(x, g):
    return (3.0 * g,)  # not the function's slope (0.5): shows where the rule is used


def doubled_floor_and_a_half(x):
    return floor_and_a_half(x) * 2.0


def test_a_rule_called_by_the_function_and_by_a_helper_it_inlines_is_used_at_both_calls():
    # the helper's call of floor_and_a_half was renamed apart from the caller's, and its rule lost:
    # the gradient through it was 0 (3.0 instead of 3.0 + 2 * 3.0)
    def loss(x):
        return floor_and_a_half(x) + doubled_floor_and_a_half(x)

    assert srcad.grad(loss)(1.3) == pytest.approx(9.0, abs=1e-12)


def test_two_functions_of_one_name_with_rules_of_their_own_keep_their_own(tmp_path, monkeypatch):
    (tmp_path / "other_rules.py").write_text(
        "import math\nimport srcad\n\n\n"
        "def floor_and_a_half(x):\n    return math.floor(x) + 0.5 * x\n\n\n"
        "@srcad.derivative(of=floor_and_a_half)\ndef floor_and_a_half_vjp(x, g):\n    return (5.0 * g,)\n\n\n"
        "def doubled(x):\n    return floor_and_a_half(x) * 2.0\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import other_rules

    def loss(x):
        return floor_and_a_half(x) + other_rules.doubled(x)

    assert srcad.grad(loss)(1.3) == pytest.approx(3.0 + 2 * 5.0, abs=1e-12)
