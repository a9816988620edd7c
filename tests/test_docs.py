"""Every ```python block in README.md and docs/*.md runs.

The blocks of one file run in order in one namespace, so a later block can use
names an earlier one defined. A block whose first line is ``# not run`` is
skipped: those show generated source or output, not code to run. A block whose
first line is ``# not run: excerpt of NAME.source`` shows part of a generated
adjoint: after the blocks before it have run, its lines (in runs separated by
``...`` lines) must occur in ``NAME.source``, so that the docs cannot drift from
what srcgrad generates. Line numbers in ``# line N:`` comments are not compared.

A line that prints (``print(...)  # 5.0 6.0``) or shows a value REPL-style
(``df(0.8137)  # 2048.0, which is f(a) / a``) with an expected output in its comment
is checked: the comment must begin with what the line prints (or with the value's
repr), numbers equal to the digits shown; the rest of the comment is explanation.
A bare expression whose comment does not begin with a value (``srcgrad.show(df)  #
prints the adjoint``) is not compared.

srcgrad reads a function's source from its file, so each Markdown file's blocks
are written to a real .py file in which every block sits at its own line
numbers in the Markdown file (the lines between blocks are blank): a traceback,
an srcgrad error and the generated source's ``# line N:`` comments all point at
the Markdown line. The file lives in srcgrad's cache folder, under a name that
depends only on the Markdown file, so a second run finds Numba's disk cache warm.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))

# Files whose blocks compile many array gradients: tens of seconds with an empty
# cache. They run in the slow tier (which CI runs too).
SLOW = {p.name for p in DOCS} - {"README.md", "index.md"}

_FENCE = re.compile(r"^```(\S*)\s*$")


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(first line number, code) of each ```python block; line numbers are 1-based."""
    blocks: list[tuple[int, str]] = []
    lines = path.read_text().splitlines()
    inside = None  # (language, first line, lines)
    for number, line in enumerate(lines, start=1):
        match = _FENCE.match(line)
        if inside is None:
            if match:
                inside = (match.group(1).lower(), number + 1, [])
        elif line.strip() == "```":
            language, first, body = inside
            if language in ("python", "py"):
                blocks.append((first, "\n".join(body) + "\n"))
            inside = None
        else:
            inside[2].append(line)
    assert inside is None, f"{path.name}: a ``` block opened at line {inside[1] - 1} is never closed"
    return blocks


_NOT_RUN = re.compile(r"#\s*not run\b:?\s*(.*)$", re.IGNORECASE)
_EXCERPT = re.compile(r"excerpt of ([A-Za-z_][\w.]*)\.source\b")
_LINE_NUMBER = re.compile(r"# line \d+:")


def _first_line(block: str) -> str:
    return block.strip().splitlines()[0].strip() if block.strip() else ""


def runnable(block: str) -> bool:
    return not _NOT_RUN.match(_first_line(block))


def excerpt_of(block: str) -> str | None:
    """For a block starting ``# not run: excerpt of NAME.source``: NAME, else None."""
    match = _NOT_RUN.match(_first_line(block))
    found = _EXCERPT.match(match.group(1)) if match else None
    return found.group(1) if found else None


def _normal(line: str) -> str:
    # line numbers in `# line N:` comments are the file's, which differs between this
    # test's script and a reader's copy: compare the rest
    return _LINE_NUMBER.sub("# line N:", line.strip())


def check_excerpt(excerpt: str, source: str) -> None:
    """Each run of lines of `excerpt` between ``...`` lines occurs, in order and as
    consecutive lines, in `source` (compared stripped, ignoring line numbers)."""
    body = excerpt.strip().splitlines()[1:]
    chunks: list[list[str]] = [[]]
    for line in body:
        if line.strip() == "...":
            chunks.append([])
        elif line.strip():
            chunks[-1].append(_normal(line))
    lines = [_normal(line) for line in source.splitlines()]
    start = 0
    for chunk in filter(None, chunks):
        for at in range(start, len(lines) - len(chunk) + 1):
            if lines[at:at + len(chunk)] == chunk:
                start = at + len(chunk)
                break
        else:
            raise AssertionError("these lines of the excerpt are not (in this order) in the generated "
                                 "source:\n" + "\n".join(chunk) + "\n\nthe generated source:\n" + source)


# ---------------------------------------------------------------- expected outputs

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf")
_TOKEN = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|\w+|\S")
_VALUE_START = re.compile(r"^\s*(?:[-+]?\d|\.\d|\[|\(|array\(|True\b|False\b|nan\b|inf\b)")


def _comments(code: str) -> dict[int, str]:
    """Line number (1-based, in `code`) -> the text of the comment ending that line."""
    import io
    import tokenize
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT:
            text = tok.string[1:]
            out[tok.start[0]] = (text[1:] if text.startswith(" ") else text).rstrip()
    return out


def _same_number(shown: str, actual: str) -> bool:
    if shown in ("nan", "inf") or actual in ("nan", "inf"):
        return shown.lstrip("+") == actual.lstrip("+")
    a, b = float(shown), float(actual)
    digits = shown.lower().split("e")[0]
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    exponent = int(shown.lower().split("e")[1]) if "e" in shown.lower() else 0
    shown_step = 10.0 ** (exponent - decimals)
    return abs(a - b) <= max(0.5 * shown_step, 1e-12 * max(abs(a), abs(b)))


def output_matches(actual: str, comment: str) -> bool:
    """Does `comment` begin with `actual` (the printed text or repr), token by token,
    numbers equal to the digits the comment shows?"""
    got = _TOKEN.findall(actual)
    shown = _TOKEN.findall(comment)
    if len(shown) < len(got):
        return False
    for g, c in zip(got, shown):
        if _NUMBER.fullmatch(g) and _NUMBER.fullmatch(c):
            if not _same_number(c, g):
                return False
        elif g != c:
            return False
    return True


class _Checks(ast.NodeTransformer):
    """Rewrites ``print(...)`` statements and REPL-style expression statements that have an
    expected output in their comment into calls that check it."""

    def __init__(self, comments: dict[int, str], offset: int, whole: set[int]) -> None:
        self.comments = comments
        self.offset = offset
        self.whole = whole     # lines that hold only a comment
        self.count = 0

    def visit_Module(self, node: ast.Module) -> ast.Module:
        """A top-level statement followed by whole-line comments: what it prints, if
        anything, must be those comments (``print(A.T)`` then ``# [[0. 2. 4.]`` lines, or
        a loop that prints one line per step)."""
        self.generic_visit(node)
        body = []
        for stmt in node.body:
            below = self._output_below(stmt.end_lineno - self.offset)
            if below is None:
                body.append(stmt)
                continue
            line = stmt.end_lineno
            self.comments[line - self.offset] = below
            self.count += 1
            capture = ast.With([ast.withitem(ast.Call(ast.Name("__doc_output__", ast.Load()),
                                                      [ast.Constant(line)], []))], [stmt])
            body.append(ast.copy_location(capture, stmt))
        node.body = body
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.stmt:
        comment = self.comments.get(node.end_lineno - self.offset)
        if comment is None or node.end_lineno - self.offset in self.whole:
            return node
        line = ast.Constant(node.end_lineno)
        value = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
                and value.func.id == "print" and not value.keywords:
            call = ast.Call(ast.Name("__doc_print__", ast.Load()), [line] + value.args, [])
        elif _VALUE_START.match(comment) and not (
                isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "print"):
            call = ast.Call(ast.Name("__doc_value__", ast.Load()), [line, value], [])
        else:
            return node
        self.count += 1
        return ast.copy_location(ast.Expr(call), node)


    def _output_below(self, line: int) -> str | None:
        """A print's output shown as whole-line comments right below it, joined."""
        lines = []
        while line + 1 in self.whole:
            line += 1
            lines.append(self.comments[line])
        return "\n".join(lines) if lines else None


def _is_print(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
        and value.func.id == "print" and not value.keywords


def _with_checks(code: str, first: int, expected: dict[int, str]) -> tuple[ast.Module, int]:
    """The block's module, its output lines checked against `expected` (file line ->
    comment); the number of checked lines."""
    tree = ast.parse("\n" * (first - 1) + code)
    comments = _comments(code)
    lines = code.splitlines()
    whole = {k for k in comments if lines[k - 1].lstrip().startswith("#")}
    checks = _Checks(comments, first - 1, whole)
    tree = ast.fix_missing_locations(checks.visit(tree))
    expected.update({first - 1 + k: v for k, v in comments.items()})
    return tree, checks.count


def _checkers(expected: dict[int, str], where: str, checked: list[int]):
    import contextlib
    import io

    def doc_print(line, *values):
        text = " ".join(str(v) for v in values)
        print(text)
        _check(line, text)

    def doc_value(line, value):
        _check(line, repr(value))
        return value

    @contextlib.contextmanager
    def doc_output(line):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            yield
        if out.getvalue().strip():
            _check(line, out.getvalue().rstrip("\n"))

    def _check(line, text):
        comment = expected[line]
        checked.append(line)
        assert output_matches(text, comment), (
            f"{where} line {line}: the comment says\n    # {comment}\nbut the line gives\n"
            f"    {text}")
    return doc_print, doc_value, doc_output


def _script_path(path: Path) -> Path:
    from srcgrad.compiler.jit import cache_dir

    folder = cache_dir() / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"\W", "_", path.stem)
    return folder / f"doc_{stem}.py"


def _write_script(path: Path, blocks: list[tuple[int, str]]) -> Path:
    """One .py file holding every block at its Markdown line numbers."""
    total = len(path.read_text().splitlines())
    lines = [""] * total
    for first, code in blocks:
        for offset, line in enumerate(code.splitlines()):
            lines[first - 1 + offset] = line
    text = "\n".join(lines) + "\n"
    script = _script_path(path)
    if not script.exists() or script.read_text() != text:
        tmp = script.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, script)
    return script


def _params():
    for path in DOCS:
        marks = [pytest.mark.slow] if path.name in SLOW else []
        yield pytest.param(path, id=path.name, marks=marks)


@pytest.mark.parametrize("path", list(_params()))
def test_python_blocks_run(path: Path, capsys):
    blocks = python_blocks(path)
    to_run = [(first, code) for first, code in blocks if runnable(code)]
    if not to_run:
        pytest.skip(f"{path.name} has no runnable python block")
    script = _write_script(path, to_run)
    # A real module in sys.modules, as a reader's script would be: Numba's disk cache pickles
    # functions the generated code calls (custom_vjp rules) by module name.
    module = types.ModuleType(f"srcgrad_doc_{script.stem}")
    module.__file__ = str(script)
    sys.modules[module.__name__] = module
    namespace = module.__dict__
    expected: dict[int, str] = {}
    checked: list[int] = []
    transformed = 0
    (namespace["__doc_print__"], namespace["__doc_value__"],
     namespace["__doc_output__"]) = _checkers(expected, path.name, checked)
    try:
        for first, code in blocks:
            name = excerpt_of(code)
            try:
                if name is not None:
                    check_excerpt(code, eval(f"{name}.source", namespace))
                elif runnable(code):
                    tree, count = _with_checks(code, first, expected)
                    transformed += count
                    exec(compile(tree, str(script), "exec"), namespace)
            except Exception as exc:
                exc.add_note(f"in the python block at {path.name} line {first} "
                             f"(the file {script} holds the blocks at their Markdown lines)")
                raise
    finally:
        del sys.modules[module.__name__]
    capsys.readouterr()
    # every line that shows an expected output ran and was compared
    assert len(set(checked)) == transformed, (transformed, sorted(set(checked)))


def test_every_doc_is_collected():
    """The docs this test covers: the README and every page of docs/ (and of mkdocs.yml's nav)."""
    names = {p.name for p in DOCS}
    assert "README.md" in names and "tutorial.md" in names and "index.md" in names
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in re.findall(r"([\w-]+\.md)", nav):
        assert (ROOT / "docs" / page).is_file(), f"mkdocs.yml names docs/{page}, which does not exist"
    for page in (ROOT / "docs").glob("*.md"):
        assert page.name in nav, f"docs/{page.name} is not in mkdocs.yml's nav"


def test_block_extraction(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("text\n```python\na = 1\n```\n\n```bash\nls\n```\n```python\n# not run\nb\n```\n")
    blocks = python_blocks(md)
    assert blocks == [(3, "a = 1\n"), (10, "# not run\nb\n")]
    assert runnable(blocks[0][1]) and not runnable(blocks[1][1])
    assert not runnable("# not run: excerpt of g.source\nx\n")
    assert excerpt_of("# not run: excerpt of g.source\nx\n") == "g"
    assert excerpt_of("# not run\nx\n") is None


def test_check_excerpt():
    source = "def f_adjoint(x):\n    # line 7: y = x\n    y = x\n    z = y\n    b_y = b_z\n    b_x = b_y\n"
    check_excerpt("# not run: excerpt of g.source\n    # line 3: y = x\n    y = x\n...\n    b_x = b_y\n", source)
    with pytest.raises(AssertionError):
        check_excerpt("# not run: excerpt of g.source\n    b_x = b_y\n...\n    y = x\n", source)
    with pytest.raises(AssertionError):
        check_excerpt("# not run: excerpt of g.source\n    y = x\n    b_x = b_y\n", source)


def test_output_matches():
    assert output_matches("2048.0", "2048.0, which is f(a) / a")
    assert output_matches("(1666.4576000000001, 2048.0)", "(1666.4576, 2048.0)")
    assert not output_matches("(1666.4577, 2048.0)", "(1666.4576, 2048.0)")
    assert output_matches("array([ 0.,  4.,  8., 12.])", "array([ 0.,  4.,  8., 12.]), which is 4x")
    assert not output_matches("168", "72")
    assert output_matches("True", "True: B is symmetric") and not output_matches("False", "True")
    assert output_matches("tangent at x = 1: slope 2.0 intercept -3.0",
                          "tangent at x = 1: slope 2.0 intercept -3.0")
    assert not output_matches("[0. 1. 2.]", "[0. 1.]")
    assert output_matches("[[0. 2. 4.]\n [1. 3. 5.]]", "[[0. 2. 4.]\n [1. 3. 5.]]")


def test_expected_outputs_are_found(tmp_path):
    expected: dict[int, str] = {}
    code = ("x = 2.0\nprint(x + 1)  # 3.0\nx  # 2.0, the value\nf(x)  # calls f\n"
            "print([x, x])\n# [2.0,\n#  2.0]\n")
    tree, count = _with_checks(code, 1, expected)
    assert count == 3 and expected[2] == "3.0" and expected[5] == "[2.0,\n 2.0]", expected
    checked: list[int] = []
    doc_print, doc_value, doc_output = _checkers(expected, "x.md", checked)
    namespace = {"__doc_print__": doc_print, "__doc_value__": doc_value,
                 "__doc_output__": doc_output, "f": lambda v: v}
    exec(compile(tree, "x.md", "exec"), namespace)
    assert checked == [2, 3, 5]
    expected_wrong: dict[int, str] = {}
    tree, _ = _with_checks("print(1 + 1)  # 3\n", 1, expected_wrong)
    doc_print, doc_value, _ = _checkers(expected_wrong, "y.md", [])
    with pytest.raises(AssertionError, match="the comment says"):
        exec(compile(tree, "y.md", "exec"), {"__doc_print__": doc_print, "__doc_value__": doc_value})


def test_language_lists_what_the_rules_table_says():
    # docs/language.md's list of functions is generated from the rules table
    # (srcgrad/compiler/surface.py); regenerate with python -m srcgrad.compiler.surface --write
    from srcgrad.compiler import surface
    text = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text()
    assert surface.replaced(text) == text, "python -m srcgrad.compiler.surface --write"
    fams = {f.title: f for f in surface.surface()}
    assert {"np.sum", "np.linalg.solve", "np.einsum", "np.var"} <= set(fams["NumPy"].rules
                                                                    + fams["np.linalg"].rules)
    assert "np.argmax" in fams["NumPy"].nondiff and "np.linalg.eigvals" in fams["np.linalg"].refused
