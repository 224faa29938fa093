"""``np.einsum`` of one or two operands of rank 1 or 2, written in the normal form as the operations
it stands for, which srcad differentiates already (numba has no einsum):

- one index summed between the operands and none shared otherwise: a matrix product, each operand
  turned so that the summed index meets (``'ij,jk->ik'`` is ``a @ b``, ``'ij,j->i'`` is ``a @ v``,
  ``'ij,kj->ik'`` is ``a @ b.T``, ``'i,i->'`` is ``a @ b``);
- otherwise an elementwise product over the indices of both (each operand turned to their order and
  given new axes where it lacks one: ``'ij,ij->i'`` is ``np.sum(a * b, axis=1)``, ``'i,j->ij'`` is
  ``a[:, None] * b[None, :]``), then a sum over the indices the result does not keep.

The subscripts must be a string in the code (or a string constant it names), with or without ``->``; no ``...``, no index repeated
within an operand (a diagonal).
"""

import libcst as cst


def einsum_parts(flattener, node):
    """(the subscripts of each operand, of the result, the operand nodes), or a located error."""
    first = node.args[0].value if node.args else None
    subscripts = first.evaluated_value if isinstance(first, cst.SimpleString) else None
    if isinstance(first, cst.Name) and isinstance(flattener.parsed.resolve(first).value, str):
        subscripts = flattener.parsed.resolve(first).value  # a string constant of the user's module or closure
    if not isinstance(subscripts, str) or any(a.keyword or a.star for a in node.args):
        raise flattener.error("srcad needs np.einsum's subscripts as a string in the code (or a string constant), "
                              "then the operands", node, "Write np.einsum('ij,jk->ik', a, b).")
    subscripts = subscripts.replace(" ", "")
    operands = [a.value for a in node.args[1:]]
    inputs, _, output = subscripts.partition("->")
    terms = inputs.split(",")
    if "->" not in subscripts:  # implicit: the indices that appear once, in alphabetical order
        output = "".join(sorted(c for c in set(inputs) if c.isalpha() and inputs.count(c) == 1))
    problem = None
    if len(terms) != len(operands) or not 1 <= len(operands) <= 2:
        problem = "one or two operands, one term of subscripts each"
    elif "." in subscripts or not all(t.isalpha() and 1 <= len(t) <= 2 for t in terms) or len(output) > 2:
        problem = "operands and results of rank 1 or 2, without '...'"
    elif any(len(set(t)) != len(t) for t in terms + [output]) or not set(output) <= set("".join(terms)):
        problem = "each index once per operand (no diagonals), and only indices of the operands in the result"
    if problem is not None:
        raise flattener.error(f"srcad differentiates np.einsum with {problem}", node.args[0].value,
                              "Write it with @, *, .T and np.sum(..., axis=k).")
    return terms, output, operands


def einsum(flattener, node, statements, into):
    """The normal-form statements computing ``node`` (an np.einsum call) appended to ``statements``;
    its atom."""
    terms, output, operands = einsum_parts(flattener, node)
    atoms = [flattener.operand(operand, statements) for operand in operands]
    if len(atoms) == 2:
        summed = set(terms[0]) & set(terms[1]) - set(output)
        shared = set(terms[0]) & set(terms[1]) & set(output)
        if len(summed) == 1 and not shared:
            return _matrix_product(flattener, terms, output, atoms, summed.pop(), statements, into)
    order = list(output) + sorted(set("".join(terms)) - set(output))
    aligned = [_aligned(flattener, atom, term, order, statements) for atom, term in zip(atoms, terms)]
    product = aligned[0]
    if len(aligned) == 2:
        product = flattener.result(cst.BinaryOperation(aligned[0], cst.Multiply(), aligned[1]), statements, None)
    if len(output) == 0:
        return flattener.result(_sum(product), statements, into)
    for axis in range(len(order) - 1, len(output) - 1, -1):  # the summed indices come last
        last = axis == len(output) and into is not None
        product = flattener.result(_sum(product, axis), statements, into if last else None)
    if len(order) > len(output) or into is None:
        return product
    return flattener.result(product, statements, into)


def _matrix_product(flattener, terms, output, atoms, index, statements, into):
    first = atoms[0] if terms[0][-1] == index else _transposed(flattener, atoms[0], statements)
    second = atoms[1] if terms[1][0] == index else _transposed(flattener, atoms[1], statements)
    kept = [c for c in terms[0] if c != index] + [c for c in terms[1] if c != index]
    if "".join(kept) == output:
        return flattener.result(cst.BinaryOperation(first, cst.MatrixMultiply(), second), statements, into)
    product = flattener.result(cst.BinaryOperation(first, cst.MatrixMultiply(), second), statements, None)
    return flattener.result(cst.Attribute(product, cst.Name("T")), statements, into)


def _aligned(flattener, atom, term, order, statements):
    """``atom`` (indexed by ``term``) turned to the indices' ``order``, with new axes where it lacks one."""
    own = [c for c in order if c in term]
    if "".join(own) != term:  # two indices, the other way round
        atom = _transposed(flattener, atom, statements)
    if len(own) == len(order):
        return atom
    elements = [cst.SubscriptElement(cst.Slice(None, None)) if c in term else cst.SubscriptElement(cst.Index(cst.Name("None")))
                for c in order]
    return flattener.result(cst.Subscript(atom, elements), statements, None)


def _transposed(flattener, atom, statements):
    return flattener.result(cst.Attribute(atom, cst.Name("T")), statements, None)


def _sum(array, axis=None):
    arguments = [cst.Arg(array)]
    if axis is not None:
        equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
        arguments.append(cst.Arg(cst.Integer(str(axis)), keyword=cst.Name("axis"), equal=equal))
    return cst.Call(cst.parse_expression("np.sum"), arguments)
