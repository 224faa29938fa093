"""NumPy functions simulation code reaches for, differentiated in both modes: each gradient against
central differences of the plain NumPy function, each tangent against a directional difference."""

import numpy as np
import pytest

import srcad
from oracles import plain_central_difference


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def gradient_by_differences(function, args, position):
    """d function / d args[position], element by element, by float64 central differences."""
    if not isinstance(args[position], np.ndarray):
        return plain_central_difference(lambda t: function(*_replaced(args, position, t)), (float(args[position]),), 0)
    gradient = np.zeros_like(args[position])
    for element in np.ndindex(args[position].shape):

        def along(t, element=element):
            moved = _copies(args)
            moved[position][element] = t
            return function(*moved)

        gradient[element] = plain_central_difference(along, (float(args[position][element]),), 0)
    return gradient


def _replaced(args, position, value):
    moved = _copies(args)
    moved[position] = value
    return moved


def check_both_modes(function, args, wrt):
    """value_and_grad against the plain value and central differences; jvp along a fixed direction
    against the directional difference."""
    value, gradients = srcad.value_and_grad(function, wrt=wrt)(*_copies(args))
    assert value == pytest.approx(function(*_copies(args)), rel=1e-12, abs=1e-14)
    for position, gradient in zip(wrt, gradients):
        expected = gradient_by_differences(function, args, position)
        np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-7, err_msg=f"d/d args[{position}]")
    rng = np.random.default_rng(3)
    tangents = [rng.normal(size=np.shape(a)) if k in wrt else None for k, a in enumerate(args)]
    tangents = [float(t) if t is not None and np.ndim(t) == 0 else t for t in tangents]

    def along(t):
        return function(*[a + t * d if d is not None else a for a, d in zip(_copies(args), tangents)])

    jvp_value, tangent = srcad.jvp(function, tuple(_copies(args)), tuple(tangents))
    assert jvp_value == pytest.approx(value, rel=1e-12, abs=1e-14)
    assert tangent == pytest.approx(plain_central_difference(along, (0.0,), 0), rel=1e-6, abs=1e-7)


# -- np.roll: periodic boundaries ------------------------------------------------------------------


def periodic_heat(u, kappa, steps):
    for t in range(steps):
        u = u + kappa * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u ** 3)


def periodic_laplacian_on_a_grid(g, w, steps):
    for t in range(steps):
        lap = np.roll(g, 1, axis=0) + np.roll(g, -1, axis=0) + np.roll(g, 2, axis=1) + np.roll(g, shift=-1, axis=-1) - 4.0 * g
        g = g + 0.1 * w * lap
    return np.sum(g * g * w)


def rolled_by_a_computed_shift(g, w, k):
    return np.sum(np.roll(g, k + 1) * w) + np.sum(np.roll(g * g, -7, axis=1) * w)


VECTOR = np.sin(np.arange(7.0))
GRID = np.sin(np.arange(12.0)).reshape(3, 4)
WEIGHTS = np.cos(np.arange(12.0)).reshape(3, 4)


@pytest.mark.parametrize("function, args", [
    (periodic_heat, (VECTOR, 0.1 + 0.01 * np.arange(7.0), 3)),
    (periodic_laplacian_on_a_grid, (GRID, WEIGHTS, 2)),
    (rolled_by_a_computed_shift, (GRID, WEIGHTS, 2)),
], ids=lambda v: getattr(v, "__name__", ""))  # fmt: skip
def test_np_roll_any_shift_any_axis(function, args):
    check_both_modes(function, args, (0, 1))


def test_np_roll_of_several_axes_at_once_is_refused_with_the_fix():
    def rolls_two_axes(g):
        return np.sum(np.roll(g, (1, 1), axis=(0, 1)) * g)

    with pytest.raises(srcad.DifferentiabilityError, match="one axis at a time"):
        srcad.grad(rolls_two_axes)(GRID)


# -- clipping with array bounds, sign-guarded terms ------------------------------------------------


def clipped_by_arrays(x, low, high):
    return np.sum(np.clip(x, low, high) ** 2)


def sign_guarded(x):
    s = np.sum(np.sign(x) * x ** 2 + np.where(np.sign(x) > 0, x, 0.0))
    for i in range(x.shape[0]):
        s += np.sign(x[i]) * x[i] ** 3
    return s


POINTS = np.array([-1.5, -0.2, 0.3, 0.9, 2.0])


def test_np_clip_with_array_bounds():
    check_both_modes(clipped_by_arrays, (POINTS, np.full(5, -1.0), np.array([0.5, 1.0, 0.1, 2.0, 1.5])), (0, 1, 2))


def test_np_sign_guarded_terms():
    check_both_modes(sign_guarded, (POINTS,), (0,))


# -- norms along an axis, small dense linear algebra, sorting ----------------------------------------


def spring_lengths(p, rest):
    d = p[1:] - p[:-1]
    length = np.linalg.norm(d, ord=2, axis=1)
    return np.sum((length - rest) ** 2) + np.sum(np.linalg.norm(d, 2, 1, True) * d)


def determinant_inverse_and_solve(a, b):
    return np.linalg.det(a) + np.sum(np.linalg.inv(a) @ b) + np.sum(np.linalg.solve(a, b) ** 2)


def solve_for_several_right_hand_sides(a, b):
    x = np.linalg.solve(a, b)
    return np.sum(x * x) + np.linalg.det(a @ a.T)


def sorted_weights(x, w):
    s = np.sort(x * w)
    return np.sum(s[1:3] ** 2) + s[0] * 3.0 + np.sum(np.sort(x)[::-1] * w)


MATRIX = np.array([[2.0, 0.3, -0.1], [0.4, 1.5, 0.2], [0.1, -0.3, 1.8]])
PATH = np.array([[0.0, 0.1], [1.0, 0.3], [2.1, -0.2], [2.9, 0.4]])


@pytest.mark.parametrize("function, args", [
    (spring_lengths, (PATH, np.array([1.0, 0.9, 1.1]))),
    (determinant_inverse_and_solve, (MATRIX, np.array([0.5, -1.0, 2.0]))),
    (solve_for_several_right_hand_sides, (MATRIX, np.arange(6.0).reshape(3, 2))),
    (sorted_weights, (np.array([0.3, -1.2, 2.2, 0.9]), np.array([1.0, 0.5, -0.7, 2.0]))),
], ids=lambda v: getattr(v, "__name__", ""))  # fmt: skip
def test_norms_linear_algebra_and_sorting(function, args):
    check_both_modes(function, args, (0, 1))


def test_the_hessian_of_a_determinant_matches_its_closed_form():
    # det of a 2x2 matrix is a d - b c: its Hessian in (a, b, c, d) is constant
    hessian = srcad.hessian(lambda_free_determinant)(np.array([[1.5, 0.2], [-0.4, 2.0]]))
    expected = np.zeros((2, 2, 2, 2))
    expected[0, 0, 1, 1] = expected[1, 1, 0, 0] = 1.0
    expected[0, 1, 1, 0] = expected[1, 0, 0, 1] = -1.0
    np.testing.assert_allclose(hessian, expected, atol=1e-10)


def lambda_free_determinant(a):
    return np.linalg.det(a)


def test_ord_2_without_an_axis_is_refused_saying_why():
    def two_norm(v):
        return np.linalg.norm(v, 2)

    with pytest.raises(srcad.DifferentiabilityError, match="singular value"):
        srcad.grad(two_norm)


# -- boolean masks ---------------------------------------------------------------------------------


def masked_reads_and_writes(x, w):
    inside = (x > 0.0) & (x < 2.0)
    s = np.sum(x[inside] ** 2 * w[inside])
    y = x.copy()
    y[x < 0.0] = 0.5 * w[x < 0.0]
    y[~inside] += 1.0
    return s + np.sum(y * y * w)


def rows_selected_by_a_mask(p, w):
    keep = p[:, 0] > 0.2
    q = p[keep]
    return np.sum(q ** 2) + np.sum(w[keep])


@pytest.mark.parametrize("function, args", [
    (masked_reads_and_writes, (np.array([0.3, -1.2, 2.2, 0.9, 1.5]), np.array([1.0, 0.5, -0.7, 2.0, 0.3]))),
    (rows_selected_by_a_mask, (np.array([[0.5, 1.0], [0.1, 2.0], [0.9, -0.3]]), np.array([1.0, 2.0, 3.0]))),
], ids=lambda v: getattr(v, "__name__", ""))  # fmt: skip
def test_boolean_masks_select_read_and_write_elements(function, args):
    check_both_modes(function, args, (0, 1))


def masked_elements_of_a_matrix(g, w):
    positive = g[g > 0.0]
    return np.sum(positive ** 3) + np.sum(w[g < 0.5] * g[g < 0.5])


def test_a_mask_of_a_matrix_selects_its_elements_in_c_order():
    check_both_modes(masked_elements_of_a_matrix, (GRID, WEIGHTS), (0, 1))
    table = np.array([[1, -2], [3, 4]])
    assert srcad.differentiable(lambda_free_count)(1.5, table) == 12.0
    assert srcad.grad(lambda_free_count)(1.5, table) == 8.0


def lambda_free_count(x, table):
    return x * np.sum(table[table > 0])


def test_writing_through_a_mask_of_a_matrix_and_python_s_and_are_refused_with_the_fix():
    def writes_through_a_matrix_mask(g):
        h = g.copy()
        h[h > 0.0] = 0.0
        return np.sum(h * g)

    def python_and(x):
        return np.sum(x[x > 0.0 and x < 1.0])

    with pytest.raises(srcad.DifferentiabilityError, match="first axis only"):
        srcad.grad(writes_through_a_matrix_mask)(GRID)
    with pytest.raises(srcad.DifferentiabilityError, match="first axis only"):  # before it runs
        srcad.differentiable(writes_through_a_matrix_mask)(GRID)
    with pytest.raises(srcad.DifferentiabilityError, match="&"):
        srcad.grad(python_and)


# -- np.einsum of one or two operands ---------------------------------------------------------------

_A = np.sin(np.arange(6.0)).reshape(2, 3)
_B = np.cos(np.arange(6.0)).reshape(3, 2)
_C = np.cos(np.arange(6.0) + 1.0).reshape(2, 3)
_D = np.sin(np.arange(8.0)).reshape(2, 4)
_V = np.array([0.5, -1.0, 2.0])
_U = np.array([1.5, -0.5])
CONTRACTIONS = [
    ("ij,j->i", _A, _V), ("ij,ij->i", _A, _C), ("ij,jk->ik", _A, _B), ("ij,kj->ik", _A, _C),
    ("ji,jk->ki", _C, _D), ("i,i->", _V, 2.0 * _V), ("i,j->ij", _U, _V), ("ij,ij->", _A, _C),
    ("ij,j->ij", _A, _V), ("ij,ij->j", _A, _C), ("ij,jk", _A, _B), ("ij,jk->ki", _A, _B),
]


def einsum_of(subscripts):
    def contracted(x, y):
        r = np.einsum(subscripts, x, y)
        return np.sum(r * r) + np.sum(r)

    return contracted


@pytest.mark.parametrize("subscripts, x, y", CONTRACTIONS, ids=[c[0] for c in CONTRACTIONS])
def test_np_einsum_of_two_operands(subscripts, x, y):
    check_both_modes(einsum_of(subscripts), (x, y), (0, 1))


def einsum_of_one_operand(a):
    return np.sum(np.einsum("ij->ji", a) * _C.T) + np.sum(np.einsum("ij->i", a) ** 3) + np.einsum("ij->", a * a)


def test_np_einsum_of_one_operand():
    check_both_modes(einsum_of_one_operand, (_A,), (0,))


def test_np_einsum_beyond_rank_two_or_with_a_diagonal_is_refused_with_the_fix():
    def diagonal(a):
        return np.sum(np.einsum("ii->i", a))

    with pytest.raises(srcad.DifferentiabilityError, match="no diagonals"):
        srcad.grad(diagonal)


def test_rewrites_made_for_one_signature_do_not_leak_into_another():
    # a boolean mask in one call, an index array in the next; an integer exponent, then a float one
    def picked(x, m, w):
        return np.sum(x[m] * w)

    def powered(x, n):
        return np.sum(x ** n)

    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(srcad.grad(picked)(x, np.array([True, False, True]), 2.0), [2.0, 0.0, 2.0])
    np.testing.assert_array_equal(srcad.grad(picked)(x, np.array([2, 0]), 2.0), [2.0, 0.0, 2.0])
    np.testing.assert_allclose(srcad.grad(powered)(x, 2), 2.0 * x)
    np.testing.assert_allclose(srcad.grad(powered)(x, -1.0), -1.0 / x ** 2)
