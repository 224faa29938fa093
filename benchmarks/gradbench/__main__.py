"""``python -m benchmarks.gradbench``: srcad answering a GradBench eval on standard input and output."""

from .protocol import serve

serve()
