"""Every ```python block in README.md and docs/*.md runs.

The blocks of one file run in order in one namespace, so a later block can use
names an earlier one defined. A block whose first line is ``# not run`` is
skipped: those show generated source or output, not code to run. A block whose
first line is ``# not run: excerpt of NAME.source`` shows part of a generated
adjoint: after the blocks before it have run, its lines (in runs separated by
``...`` lines) must occur in ``NAME.source``, so that the docs cannot drift from
what srcgrad generates. Line numbers in ``# line N:`` comments are not compared.

srcgrad reads a function's source from its file, so each Markdown file's blocks
are written to a real .py file in which every block sits at its own line
numbers in the Markdown file (the lines between blocks are blank): a traceback,
an srcgrad error and the generated source's ``# line N:`` comments all point at
the Markdown line. The file lives in srcgrad's cache folder, under a name that
depends only on the Markdown file, so a second run finds Numba's disk cache warm.
"""

from __future__ import annotations

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
SLOW = {"tutorial.md"}

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


def _script_path(path: Path) -> Path:
    from srcgrad.jit import cache_dir

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
    try:
        for first, code in blocks:
            name = excerpt_of(code)
            try:
                if name is not None:
                    check_excerpt(code, eval(f"{name}.source", namespace))
                elif runnable(code):
                    exec(compile("\n" * (first - 1) + code, str(script), "exec"), namespace)
            except Exception as exc:
                exc.add_note(f"in the python block at {path.name} line {first} "
                             f"(the file {script} holds the blocks at their Markdown lines)")
                raise
    finally:
        del sys.modules[module.__name__]
    capsys.readouterr()


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
