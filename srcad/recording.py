"""The ``srcad.Tape`` recording on this thread, if any: what launches and decorated calls ask
before they run, so that they are recorded."""

import threading


class _Recording(threading.local):
    def __init__(self):
        self.stack = []  # each thread's tapes being recorded, innermost last


_active = _Recording()  # (an attribute that is always there: a missing one costs a caught exception per call)


def active_tape():
    stack = _active.stack
    return stack[-1] if stack else None


def start(tape):
    _active.stack.append(tape)


def stop():
    _active.stack.pop()
