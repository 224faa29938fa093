"""Reverse mode: the adjoint of a normal-form function (``adjoint.reverse_mode``) and the passes
that tidy it (tape reservations, first contributions by assignment, loops run forwards)."""
