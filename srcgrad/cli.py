"""The `srcgrad` command line (also `python -m srcgrad`).

    srcgrad demo                                   the d2l control-flow example, explained
    srcgrad show FILE.py:FUNC [--wrt x,y] [--args SPEC] [--after STAGE] [--vjp]
                                                   print the generated adjoint (or a stage's text)
    srcgrad check FILE.py:FUNC --args SPEC [--wrt x,y] [--seed N]
                                                   compare the gradient with finite differences
    srcgrad warmup FILE.py [FILE.py ...]           import the files: their .compile(...) calls
                                                   fill the disk caches (deployment, CI)

SPEC is a comma-separated list, one entry per parameter: a float such as
``1.0`` or ``-2.5e-3`` is passed as that float; a shape such as ``3`` or
``3x4`` is an array of that shape filled with standard normal numbers (from
``--seed``); ``int:5`` is the int 5.

Exit status: 0 on success, 1 if a gradient check fails, 2 for a bad file,
function name or argument, or an error srcgrad raises about the function.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import inspect
import io
import os
import re
import sys
import traceback
from pathlib import Path

# Stages whose result pipeline.generate() prints when SRCGRAD_PRINT_AFTER names them.
AFTER_STAGES = ("normalize", "types", "scalarize", "analyze", "reverse", "forward", "emit")


class CLIError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


# loading the function --------------------------------------------------------


def _split_target(spec: str) -> tuple[Path, str]:
    path, sep, name = spec.rpartition(":")
    if not sep or not path or not name:
        raise CLIError(f"expected path/to/file.py:function, got {spec!r}")
    if not name.isidentifier():
        raise CLIError(f"{name!r} (after the last ':' in {spec!r}) is not a function name")
    file = Path(path)
    if not file.is_file():
        hint = " (it is a folder)" if file.is_dir() else ""
        raise CLIError(f"no such file: {path}{hint}")
    return file, name


def import_file(file: Path):
    """The Python file imported as a module (its ``if __name__ == "__main__":`` block does
    not run), its folder on sys.path while it imports. Raises CLIError."""
    module_name = file.stem if file.stem.isidentifier() else "srcgrad_cli_module"
    if module_name in sys.modules:
        module_name = f"srcgrad_cli_{abs(hash(str(file.resolve())))}_{module_name}"
    module_spec = importlib.util.spec_from_file_location(module_name, file)
    if module_spec is None or module_spec.loader is None:
        raise CLIError(f"cannot import {file}: not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    folder = str(file.resolve().parent)
    sys.path.insert(0, folder)  # the file's own imports of its neighbours
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any error while importing the user's file
        del sys.modules[module_name]
        raise CLIError(f"cannot import {file}: {type(exc).__name__}: {exc}") from exc
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)
    return module


def load_function(spec: str):
    """The function named by ``path/to/file.py:function``, from the file imported as a module
    (its ``if __name__ == "__main__":`` block does not run). Raises CLIError."""
    file, name = _split_target(spec)
    module = import_file(file)
    if not hasattr(module, name):
        functions = sorted(k for k, v in vars(module).items()
                           if inspect.isfunction(v) and v.__module__ == module.__name__)
        known = f"; it defines {', '.join(functions)}" if functions else "; it defines no function"
        raise CLIError(f"{file} has no function {name!r}{known}")
    fn = getattr(module, name)
    import srcgrad
    if isinstance(fn, srcgrad.GradFunction):  # @srcgrad.grad in the file: its function
        fn = fn.__wrapped__
    if not callable(fn):
        raise CLIError(f"{file}:{name} is a {type(fn).__name__}, not a function")
    return fn


# arguments -------------------------------------------------------------------


_SHAPE = re.compile(r"^\d+(x\d+)*$")


def parse_wrt(text: str):
    """``x,y`` or ``0,2`` -> what srcgrad.grad takes as wrt (an int or name, or a tuple)."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise CLIError(f"--wrt {text!r}: expected parameter names or positions separated by commas")
    parsed = []
    for item in items:
        if re.fullmatch(r"-?\d+", item):
            parsed.append(int(item))
        elif item.isidentifier():
            parsed.append(item)
        else:
            raise CLIError(f"--wrt: {item!r} is neither a parameter name nor a position")
    return parsed[0] if len(parsed) == 1 else tuple(parsed)


def parse_args_spec(text: str, seed: int) -> tuple[list, list[str]]:
    """(arguments, descriptions) for SPEC; see the module docstring. Raises CLIError."""
    import numpy as np

    rng = np.random.default_rng(seed)
    values, described = [], []
    entries = [entry.strip() for entry in text.split(",")]
    if text.strip() == "":
        return [], []
    for entry in entries:
        low = entry.lower()
        if not entry:
            raise CLIError(f"--args {text!r}: an empty entry (two commas in a row?)")
        if low.startswith("int:"):
            try:
                values.append(int(entry[4:]))
            except ValueError:
                raise CLIError(f"--args: {entry!r}: expected int:N with N an integer, e.g. int:5") from None
            described.append(f"int {values[-1]}")
        elif _SHAPE.match(low):
            shape = tuple(int(n) for n in low.split("x"))
            values.append(rng.standard_normal(shape))
            described.append(f"random array {'x'.join(map(str, shape))}")
        else:
            try:
                value = float(entry)
            except ValueError:
                raise CLIError(f"--args: {entry!r} is not a float (1.0), a shape (3 or 3x4) or an int "
                               "(int:5)") from None
            values.append(value)
            described.append(f"float {value!r}")
    return values, described


def _bind(fn, args: list, spec: str) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args)
    except TypeError as exc:
        raise CLIError(f"{spec}{signature} cannot take the {len(args)} argument(s) given by --args: {exc}") from None


def _default_wrt(fn, args: list):
    """Every argument that is a float or a float array."""
    import numpy as np

    positions = [i for i, a in enumerate(args)
                 if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")]
    if not positions:
        raise CLIError("--args gives no float or array argument to differentiate with respect to")
    return positions[0] if len(positions) == 1 else tuple(positions)


# output ----------------------------------------------------------------------


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def highlighted(text: str, color: bool) -> str:
    """`text` with terminal colors for Python if `color` and pygments is installed."""
    if not color:
        return text
    try:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return text
    return highlight(text, PythonLexer(), TerminalFormatter())


def _types_text(text: str) -> str:
    """pipeline prints the types stage's result as a dict: one name a line reads better."""
    try:
        types = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text
    if not isinstance(types, dict):
        return text
    width = max((len(k) for k in types), default=0)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in types.items()) + "\n"


def stage_text(grad_fn, args: list | None, stage: str) -> tuple[str, BaseException | None]:
    """What pipeline.generate() prints after `stage` (SRCGRAD_PRINT_AFTER), for the gradient
    function `grad_fn` at arguments like `args` (None: its preview argument types). Returns the
    text and the srcgrad error a later stage raised, if any."""
    import srcgrad

    if stage == "emit":  # the module itself
        return (grad_fn.source_for(*args) if args is not None else grad_fn.source), None
    saved = os.environ.get("SRCGRAD_PRINT_AFTER")
    os.environ["SRCGRAD_PRINT_AFTER"] = stage
    printed = io.StringIO()
    error = None
    try:
        with contextlib.redirect_stderr(printed):
            grad_fn.source_for(*args) if args is not None else grad_fn.source
    except srcgrad.SrcgradError as exc:
        error = exc
    finally:
        if saved is None:
            del os.environ["SRCGRAD_PRINT_AFTER"]
        else:
            os.environ["SRCGRAD_PRINT_AFTER"] = saved
    text = printed.getvalue()
    if error is not None and not text:
        raise error
    if stage == "types":
        text = _types_text(text)
    return text, error


# commands --------------------------------------------------------------------


def _show(options) -> int:
    import srcgrad

    fn = load_function(options.target)
    args = None
    if options.args is not None:
        args, _ = parse_args_spec(options.args, options.seed)
        _bind(fn, args, options.target)
    if options.mode == "fwd":
        grad_fn = _TangentSource(fn, parse_wrt(options.wrt) if options.wrt is not None else None)
        if options.after == "reverse":
            options.after = "forward"
    elif options.vjp:
        grad_fn = srcgrad.gradfn.VJPFunction(fn, wrt=parse_wrt(options.wrt or "0"))
    else:
        grad_fn = srcgrad.grad(fn, wrt=parse_wrt(options.wrt or "0"))
    try:
        text, later = stage_text(grad_fn, args, options.after)
    except srcgrad.TypeInferenceError as exc:
        if args is not None:
            raise
        raise CLIError(f"TypeInferenceError: {exc}\n  (the source was generated for float arguments: for "
                       "arrays or ints, give example arguments with --args, e.g. --args 3x4,1.0,int:5)") from exc
    except srcgrad.NonScalarOutputError as exc:
        raise CLIError(f"NonScalarOutputError: {exc}\n  (srcgrad show --vjp shows the module srcgrad.vjp "
                       "uses)") from exc
    text = text.rstrip("\n") + "\n"
    sys.stdout.write(highlighted(text, _use_color(options.color)))
    if later is not None:
        print(f"srcgrad: note: a stage after {options.after!r} failed for these argument types "
              f"({type(later).__name__}: {later}); pass --args to give the real ones", file=sys.stderr)
    return 0


class _TangentSource:
    """What `show --mode fwd` prints: the tangent module srcgrad.jvp compiles."""

    def __init__(self, fn, wrt) -> None:
        from .compiler.tangent import TangentFunction
        self._tangent = TangentFunction(fn, jit=False)
        self._wrt = wrt
        self._fn = fn

    def source_for(self, *args) -> str:
        return self._tangent.source_for(*args, wrt=self._wrt)

    @property
    def source(self) -> str:
        from .gradfn import GradFunction
        preview = GradFunction(self._fn).preview_types()
        return self._tangent.spec(preview, self._tangent.wrt_indices(preview, self._wrt))[0]


def _check(options) -> int:
    import srcgrad
    from srcgrad.check import check_grad

    fn = load_function(options.target)
    args, described = parse_args_spec(options.args, options.seed)
    _bind(fn, args, options.target)
    wrt = parse_wrt(options.wrt) if options.wrt is not None else _default_wrt(fn, args)
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    named = ", ".join(f"{p}: {d}" for p, d in zip(params, described))
    print(f"checking {options.target} at ({named}), seed {options.seed}")
    try:
        results = check_grad(fn, *args, wrt=wrt, seed=options.seed,
                             modes=tuple(options.modes.split(",")), order=options.order)
    except srcgrad.GradientCheckError as exc:
        print(exc.result)
        print(f"srcgrad: {exc}", file=sys.stderr)
        return 1
    results = results if isinstance(results, tuple) else (results,)
    for mode, result in zip(options.modes.split(","), results):
        if len(results) > 1 or mode != "rev":
            print(f"mode {mode}:")
        print(result)
    return 0 if all(r.ok for r in results) else 1


def _warmup(options) -> int:
    """Import each file (its .compile(...) calls compile), call its srcgrad_warmup() if it
    has one, and say what each of its derivatives is compiled for."""
    import time

    import srcgrad
    kinds = (srcgrad.GradFunction,)
    status = 0
    for name in options.files:
        file = Path(name)
        if not file.is_file():
            raise CLIError(f"no such file: {name}")
        start = time.perf_counter()
        module = import_file(file)
        hook = getattr(module, "srcgrad_warmup", None)
        if callable(hook):
            hook()
        seconds = time.perf_counter() - start
        found = [(k, v) for k, v in vars(module).items() if isinstance(v, kinds)]
        print(f"{file}: {len(found)} derivative(s), {seconds:.1f} s")
        for key, g in found:
            specs = g.compiled_for()
            if specs:
                for types in specs:
                    print(f"  {key}: {g!r} compiled for ({', '.join(map(str, types))})")
            else:
                status = 1
                print(f"  {key}: {g!r} not compiled: call {key}.compile(example arguments) in "
                      f"the file, or in a function srcgrad_warmup() there")
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srcgrad", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,show,check,warmup}")
    sub.add_parser("demo", help="differentiate the d2l control-flow example and show how")
    show = sub.add_parser("show", help="print the generated adjoint of file.py:function")
    show.add_argument("target", help="path/to/file.py:function")
    show.add_argument("--wrt", default=None,
                      help="parameter(s) to differentiate: names or positions, comma separated "
                           "(default 0; with --mode fwd, every float argument)")
    show.add_argument("--args", metavar="SPEC",
                      help="example arguments, for their types (default: floats): e.g. 1.0,3x4,int:5")
    show.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    show.add_argument("--after", choices=AFTER_STAGES, default="emit",
                      help="print the result of this stage instead: normalize (the function lowered "
                           "to one operation per statement), types, scalarize (elementwise array "
                           "expressions as loops), analyze (active variables), "
                           "reverse or emit (the adjoint module, the default)")
    show.add_argument("--mode", choices=("rev", "fwd"), default="rev",
                      help="rev: the adjoint grad compiles (default); fwd: the tangent module "
                           "jvp compiles")
    show.add_argument("--vjp", action="store_true",
                      help="the module srcgrad.vjp uses (for a function returning an array or a tuple)")
    show.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="syntax colors (pygments): auto = when printing to a terminal")
    check = sub.add_parser("check", help="check the gradient of file.py:function against finite differences")
    check.add_argument("target", help="path/to/file.py:function")
    check.add_argument("--args", metavar="SPEC", required=True,
                       help="one entry per parameter: 1.0 (a float), 3 or 3x4 (a random array of that "
                            "shape), int:5 (an int)")
    check.add_argument("--wrt", default=None,
                       help="parameter(s) to check: names or positions, comma separated "
                            "(default: every float and array argument)")
    check.add_argument("--modes", default="rev",
                       help="rev, fwd or rev,fwd: check grad (reverse mode), jvp (forward mode) or both")
    check.add_argument("--order", type=int, choices=(1, 2), default=1,
                       help="2: check Hessian-vector products instead (one wrt argument)")
    check.add_argument("--seed", type=int, default=0,
                       help="seed of the random arrays and of the check's directions (default 0)")
    warm = sub.add_parser("warmup", help="compile the derivatives a file makes (its "
                                         ".compile(...) calls) into the disk caches")
    warm.add_argument("files", nargs="+", metavar="FILE.py")
    return parser


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    if options.command == "demo":
        from .demo import main as demo
        return demo()
    import srcgrad

    command = {"show": _show, "check": _check, "warmup": _warmup}[options.command]
    try:
        return command(options)
    except CLIError as exc:
        print(f"srcgrad {options.command}: {exc}", file=sys.stderr)
        return 2
    except srcgrad.SrcgradError as exc:
        print(f"srcgrad {options.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the user's function raised: show where
        traceback.print_exc()
        print(f"srcgrad {options.command}: {getattr(options, 'target', options.command)} raised "
              f"{type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
