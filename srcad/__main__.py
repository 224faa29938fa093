"""Command line: ``python -m srcad show path/to/file.py:function [--stage normalized|adjoint|tangent]``."""

import argparse
import importlib.util
import os
import sys

import srcad


def _load(target):
    path, _, name = target.rpartition(":")
    if not path or not name:
        raise SystemExit(f"expected path/to/file.py:function, got {target!r}")
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)
    module_name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None:
        raise SystemExit(f"cannot load {path!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    try:
        return getattr(module, name)
    except AttributeError:
        raise SystemExit(f"{path} has no function {name!r}") from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m srcad", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print a generated stage of a function")
    show.add_argument("target", help="path/to/file.py:function")
    show.add_argument("--stage", default="adjoint", choices=["normalized", "adjoint", "tangent"])
    show.add_argument(
        "--args", default=None, help="example arguments fixing the types, e.g. '1.0, 3' (default: all floats)"
    )
    show.add_argument("--wrt", default=None, help="argument positions to differentiate, e.g. '0,1'")
    options = parser.parse_args(argv)
    function = _load(options.target)
    args = eval(f"({options.args},)", {}) if options.args else None  # the user's own command line
    wrt = tuple(int(w) for w in options.wrt.split(",")) if options.wrt else None
    try:
        print(srcad.source(function, options.stage, args=args, wrt=wrt))
    except srcad.DifferentiabilityError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
