"""A user's module of plain numbers, read as ``C.G`` by tests/frontend/test_module_constants.py."""

G = 0.5
DT = 0.01
STEPS = 4
