"""Pass 5c: float adjoints known to be zero take their first contribution by assignment."""

import libcst as cst

from srcad.transforms.reverse.first_contributions import assign_first_contributions


def _rewritten(source, scalars=("a_adj", "b_adj")):
    module = cst.parse_module(source)
    return cst.Module(assign_first_contributions(list(module.body), set(scalars))).code


def test_after_a_reset_the_next_contribution_assigns_and_later_ones_add():
    code = _rewritten("a_adj = 0.0\na_adj += t\na_adj -= u * v\nb_adj -= a_adj + w\n")
    assert code == "a_adj = 0.0\na_adj = t\na_adj -= u * v\nb_adj -= a_adj + w\n"


def test_a_subtraction_into_zero_negates_the_whole_value():
    assert _rewritten("b_adj = 0.0\nb_adj -= u + v\n") == "b_adj = 0.0\nb_adj = -(u + v)\n"


def test_in_a_loop_only_what_is_zero_on_every_pass_counts():
    source = (
        "a_adj = 0.0\nb_adj = 0.0\n"
        "for i in range(n):\n"
        "    a_adj += x[i]\n"  # a_adj carries over from the previous pass: adds
        "    b_adj += y[i]\n"  # b_adj is reset at the end of every pass: assigns
        "    z[i] += b_adj\n"
        "    b_adj = 0.0\n"
    )
    code = _rewritten(source)
    assert "    a_adj += x[i]\n" in code and "    b_adj = y[i]\n" in code


def test_a_branch_that_may_leave_a_value_keeps_the_addition_after_it():
    source = "a_adj = 0.0\nif c:\n    a_adj += 1.0\nelse:\n    pass\na_adj += t\n"
    code = _rewritten(source)
    assert "    a_adj = 1.0\n" in code and code.endswith("a_adj += t\n")


def test_arrays_elements_and_other_names_are_left_alone():
    source = "c_adj = 0.0\nc_adj += t\na_adj = 0.0\na_adj, k = f(x)\na_adj += t\nb_adj = 0.0\nb_adj[i] += t\n"
    assert _rewritten(source) == source


def test_elif_branches_count_like_else_branches():
    source = "a_adj = 0.0\nif c:\n    a_adj += 1.0\nelif d:\n    pass\nelse:\n    a_adj += 2.0\na_adj += t\n"
    code = _rewritten(source)
    assert "    a_adj = 2.0\n" in code and code.endswith("a_adj += t\n")
