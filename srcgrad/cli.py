"""The `srcgrad` command line: `srcgrad demo`, `srcgrad show file.py:func`."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path


def _load_function(spec: str):
    path, _, name = spec.rpartition(":")
    if not path or not name:
        raise SystemExit(f"srcgrad: expected path/to/file.py:function, got {spec!r}")
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"srcgrad: no such file: {path}")
    module_spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[file.stem] = module
    module_spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if fn is None:
        raise SystemExit(f"srcgrad: {path} defines no function {name!r}")
    return fn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="srcgrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="differentiate the d2l control-flow example and show how")
    show = sub.add_parser("show", help="print the generated adjoint of file.py:function")
    show.add_argument("target", help="path/to/file.py:function")
    show.add_argument("--wrt", default="0",
                      help="parameter(s) to differentiate: names or positions, comma separated")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as demo
        return demo()
    if args.command == "show":
        import srcgrad
        fn = _load_function(args.target)
        items = [int(w) if w.strip().lstrip("-").isdigit() else w.strip()
                 for w in args.wrt.split(",")]
        wrt = items[0] if len(items) == 1 else tuple(items)
        try:
            print(srcgrad.grad(fn, wrt=wrt).source)
        except srcgrad.SrcgradError as exc:
            print(f"srcgrad: {exc}", file=sys.stderr)
            return 2
        return 0
    return 1
