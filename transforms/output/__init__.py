"""Printing a generated function as a Python module."""
