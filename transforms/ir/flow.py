"""Which values flow into a block of statements and out of a loop: the reads that can see a value
assigned before the block (or by the block's previous run, for a loop body), and the reads after a
loop that can see a value the loop assigned. Straight-line code, ``if``, ``for`` and ``while``, as in
the normal form and the generated adjoints alike; a loop may run no times, so what it assigns is
not certainly assigned after it.
"""

import libcst as cst

from . import nodes_in, variables_in


def targets_of(small):
    """Names a small statement binds."""
    if isinstance(small, cst.Assign):
        return [t.target.value for t in small.targets if isinstance(t.target, cst.Name)]
    if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
        return [small.target.value]
    return []


def reads_of(small):
    """Names a small statement reads (an assignment's plain targets are not read; ``x += t`` reads x)."""
    if isinstance(small, cst.Assign):
        names = variables_in(small.value)
        for target in small.targets:
            if not isinstance(target.target, cst.Name):
                names |= variables_in(target.target)
        return names
    return variables_in(small)


def reads_before_assignment(statements, defined):
    """Names ``statements`` may read before assigning them, given the names ``defined`` before them
    (a loop body and its index: the values that may come in from before the loop or from the
    previous iteration)."""
    found = set()

    def walk(statements, defined):
        defined = set(defined)
        for statement in statements:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    found.update(n for n in reads_of(small) if n not in defined)
                    defined.update(targets_of(small))
            elif isinstance(statement, cst.If):
                found.update(n for n in variables_in(statement.test) if n not in defined)
                after_body = walk(statement.body.body, defined)
                after_else = walk(statement.orelse.body.body, defined) if statement.orelse else defined
                defined = after_body & after_else
            elif isinstance(statement, cst.For):
                found.update(n for n in variables_in(statement.iter) if n not in defined)
                walk(statement.body.body, defined | set(variables_in(statement.target)))
            elif isinstance(statement, cst.While):
                found.update(n for n in variables_in(statement.test) if n not in defined)
                walk(statement.body.body, defined)
            else:
                found.update(n for n in variables_in(statement) if n not in defined)
        return defined

    walk(statements, defined)
    return found


def read_after(function_body, loop, names):
    """Those of ``names`` that code able to run after ``loop`` (a statement somewhere in
    ``function_body``) may read before assigning them: the values the loop leaves behind that
    matter. (The loop's own body counts where an outer loop runs it again.)"""
    read = set()

    def walk(statements, dirty):
        dirty = set(dirty)
        for statement in statements:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    read.update(n for n in reads_of(small) if n in dirty)
                    dirty -= set(targets_of(small))
            elif isinstance(statement, cst.If):
                read.update(n for n in variables_in(statement.test) if n in dirty)
                dirty = walk(statement.body.body, dirty) | (
                    walk(statement.orelse.body.body, dirty) if statement.orelse else dirty
                )
            elif isinstance(statement, (cst.For, cst.While)):
                head = statement.iter if isinstance(statement, cst.For) else statement.test
                read.update(n for n in variables_in(head) if n in dirty)
                index = {statement.target.value} if isinstance(statement, cst.For) else set()
                entering = set(dirty)
                while True:  # dirty names reach the body's start from before the loop or the last iteration
                    leaving = walk(statement.body.body, entering - index)
                    if leaving <= entering:
                        break
                    entering |= leaving
                dirty = entering | leaving | (names if statement is loop else set())
            else:
                read.update(n for n in variables_in(statement) if n in dirty)
        return dirty

    walk(function_body, set())
    return read


def _assignment_counts(statements):
    """{name: how many times ``statements`` assign it}, anywhere in them (a loop variable counts twice:
    a loop assigns it again and again)."""
    counts = {}
    for statement in statements:
        for node in nodes_in(statement):
            if isinstance(node, (cst.Assign, cst.AugAssign)):
                for name in targets_of(node):
                    counts[name] = counts.get(name, 0) + 1
            elif isinstance(node, cst.For):
                for name in variables_in(node.target):
                    counts[name] = counts.get(name, 0) + 2
    return counts


def assigned_names(statements):
    """The names ``statements`` assign anywhere in them: assignment targets and loop variables."""
    return set(_assignment_counts(statements))


def index_names(body, index):
    """The names holding a different element index in each iteration of a loop over ``index`` (0, 1,
    ... N - 1, whichever order the loop runs): ``index`` itself, and names ``body`` assigns once,
    straight in it, as one of them plus or times a positive number (``i = 1 + i_iteration``,
    ``i_plus_1 = i + 1``) or rolled along its axis (``rolled_position(i, offset, n)``). None of
    them is ever negative, where NumPy's wrap-around could bring two of them to one element."""
    assigned = _assignment_counts(body)
    if index in assigned:
        return set()  # (the body sets the index itself)
    own = {index}

    def positive(node, at_least=1):
        return isinstance(node, cst.Integer) and int(node.value, 0) >= at_least

    def growing(node):  # a different non-negative value for each iteration
        if isinstance(node, cst.Name):
            return node.value in own
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            return (growing(node.left) and positive(node.right, 0)) or (positive(node.left, 0) and growing(node.right))
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
            return (growing(node.left) and positive(node.right)) or (positive(node.left) and growing(node.right))
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "rolled_position":
            # np.roll's source of a position: a one-to-one map of the axis onto itself, for an offset
            # and a length that hold throughout the loop
            position, *fixed = [argument.value for argument in node.args]
            return growing(position) and all(
                isinstance(a, cst.Integer) or (isinstance(a, cst.Name) and a.value not in assigned) for a in fixed)
        return False

    for statement in body:
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
            continue
        small = statement.body[0]
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
            name = small.targets[0].target.value
            if assigned.get(name) == 1 and growing(small.value):
                own.add(name)
    return own


def owned_element(parts, own, assigned):
    """Whether an element index (``parts``: the atoms between the brackets) differs from one iteration
    to the next and names nothing else that changes: each part a number, one of ``own`` (``index_names``)
    or a name not in ``assigned``, at least one of ``own``."""
    names = {part.value for part in parts if isinstance(part, cst.Name)}
    return all(isinstance(part, (cst.Integer, cst.Name)) for part in parts) and bool(names & own) and (
        not (names - own) & assigned)
