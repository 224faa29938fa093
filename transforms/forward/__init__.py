"""Forward mode: the tangent of a normal-form function (``tangent.forward_mode``), with symbolic
zeros dropped and constants folded."""
