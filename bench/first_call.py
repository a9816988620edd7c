"""First call: how long a fresh process waits for its first srcgrad gradient, beside Numba and JAX.

Run from the project root::

    python -m bench.first_call                   # 3 fresh processes per measurement: bench/results/first_call.json,
                                                 # the "First call" section of docs/benchmarks.md
    python -m bench.first_call --repeat 5        # medians over 5
    python -m bench.first_call --quick           # 1 process each, into bench/results/local/, docs untouched
    python -m bench.first_call --srcgrad /path/to/other/checkout --out bench/results/first_call_before.json
    python -m bench.first_call --from-json bench/results/first_call.json   # tables (and docs) again, no run

Functions (``bench/first_call_functions.py``, plain NumPy as a user writes them): an MLP
10-16-4 (batch 32, tanh, softmax cross-entropy; gradient with respect to W1, b1, W2, b2),
logistic regression (200x10 data, mean log-loss; w and b), Lotka-Volterra (1000 explicit
Euler steps of a scalar loop; its 4 rate parameters) and least squares (50x5; w).

Every measurement is a fresh interpreter (``bench/first_call_child.py``), one function per
process, in this order for each function and repeat:

* **srcgrad cold**: ``SRCGRAD_CACHE_DIR`` and ``NUMBA_CACHE_DIR`` are new empty directories;
  ``import srcgrad`` is timed on its own, then from after the import to the first gradient
  result (``srcgrad.grad(f, wrt=...)`` and one call: transform, code generation, Numba compile,
  one run; loading the functions' module and making the arguments, milliseconds, included);
* **srcgrad warm**: a second process with the same two directories, the same measurement;
* **per-call overhead** (same directories, after warm-up): median time per call of the srcgrad
  gradient, of ``numba.njit`` of the forward and of a trivial njit function (returns 0.0) of as
  many arguments, on tiny arguments of the same types and at the benchmark size; for least
  squares also 1,000 steps of gradient descent calling the gradient (time per step) beside
  loops of as many forward and trivial calls;
* **Numba forward cold / warm**: ``numba.njit(cache=True)`` of the same function in a process
  with new empty cache directories, compiled and called once, then again in a second process
  with the same directory (Numba's own cold compile and cache load);
* **JAX**: ``jax.jit(jax.grad(f, argnums=...))`` of the ``jax.numpy`` version
  (``bench/first_call_jax.py``; float64, CPU) built and called once, after ``import jax``
  (no persistent compilation cache: every JAX process compiles).

Reported: the median over ``--repeat`` processes of each, the 1-minute load average at the
start of every process, the cache directories' size after the cold run, and which srcgrad was
measured (its path and commit).  ``--srcgrad PATH`` measures the srcgrad package of another
checkout (put first on the children's ``PYTHONPATH``; the functions still come from here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common, first_call_functions
from bench.report import md_table

HERE = Path(__file__).resolve().parent
CHILD = HERE / "first_call_child.py"
CASE_NAMES = ("mlp", "logreg", "lotka_volterra", "lstsq")
DOCS = common.PROJECT_ROOT / "docs" / "benchmarks.md"
SECTION = "first_call"
DEFAULT_JSON = common.RESULTS_DIR / "first_call.json"
BEFORE_JSON = common.RESULTS_DIR / "first_call_before.json"
# where the section goes when docs/benchmarks.md has no markers for it yet
INSERT_BEFORE = "## Quick runs"

# the first-call measurements: kind -> label
KINDS = {
    "srcgrad_cold": "srcgrad, empty caches",
    "srcgrad_warm": "srcgrad, warm caches",
    "numba_cold": "Numba forward, empty cache",
    "numba_warm": "Numba forward, warm cache",
    "jax": "JAX jit(grad)",
}


def git_state(root: Path) -> dict:
    def git(*a):
        try:
            return subprocess.run(["git", "-C", str(root), *a], capture_output=True, text=True, timeout=10,
                                  check=False).stdout.strip()
        except Exception:  # noqa: BLE001
            return ""
    return {"commit": git("rev-parse", "--verify", "-q", "HEAD") or None,
            "srcgrad_dirty": bool(git("status", "--porcelain", "--", "srcgrad"))}


def run_child(spec: dict, srcgrad_root: Path, cache: Path | None, timeout: float) -> dict:
    """One fresh process; its result plus its whole wall time (interpreter start-up to exit)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(srcgrad_root)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if cache is not None:
        env["SRCGRAD_CACHE_DIR"] = str(cache / "srcgrad")
        env["NUMBA_CACHE_DIR"] = str(cache / "numba")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(CHILD), json.dumps(spec)], cwd=str(common.PROJECT_ROOT), env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    wall = time.perf_counter() - t0
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")), None)
    if proc.returncode != 0 or line is None:
        tail = proc.stderr.strip().splitlines() or [""]
        return {"error": f"rc={proc.returncode}: {tail[-1][:300]}", "stderr_tail": "\n".join(tail[-30:]),
                "process_s": wall}
    res = json.loads(line[len("@@RESULT@@"):])
    res["process_s"] = wall
    if "import_s" in res:
        res["after_import_s"] = res["to_first_s"] - res["import_s"]
    return res


def measure(cases, repeat: int, srcgrad_root: Path, jax: bool, overhead: bool, samples: int,
            timeout: float, say) -> dict:
    runs: dict = {c: {k: [] for k in list(KINDS) + ["overhead"]} for c in cases}
    for r in range(repeat):
        for case in cases:
            with tempfile.TemporaryDirectory(prefix="srcgrad-first-call-") as tmp:
                cache = Path(tmp)
                for kind in ("srcgrad_cold", "srcgrad_warm"):
                    res = run_child({"kind": "srcgrad", "case": case}, srcgrad_root, cache, timeout)
                    if kind == "srcgrad_cold" and "error" not in res:
                        res["cache_files"], res["cache_bytes"] = common._dir_size(cache)
                    runs[case][kind].append(res)
                    say(r, case, kind, res)
                if overhead:
                    res = run_child({"kind": "overhead", "case": case, "samples": samples}, srcgrad_root, cache,
                                    timeout)
                    runs[case]["overhead"].append(res)
                    say(r, case, "overhead", res)
            with tempfile.TemporaryDirectory(prefix="srcgrad-first-call-") as tmp:
                for kind in ("numba_cold", "numba_warm"):
                    res = run_child({"kind": "numba", "case": case}, srcgrad_root, Path(tmp), timeout)
                    runs[case][kind].append(res)
                    say(r, case, kind, res)
            if jax:
                res = run_child({"kind": "jax", "case": case}, srcgrad_root, None, timeout)
                runs[case]["jax"].append(res)
                say(r, case, "jax", res)
    return runs


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(runs: dict) -> dict:
    """Medians over the processes of each case and kind (failed processes left out, counted)."""
    out = {}
    for case, kinds in runs.items():
        out[case] = {"agreement": agreement(kinds)}
        for kind, rs in kinds.items():
            ok = [r for r in rs if "error" not in r]
            if not rs:
                continue
            if kind == "overhead":
                if not ok:
                    continue
                s = {}
                for part in ("tiny", "full"):
                    s[part] = {peer: _median([r[part][peer]["median_s"] for r in ok]) for peer in ok[0][part]}
                if "descent" in ok[0]:
                    s["descent"] = {k: _median([r["descent"][k] for r in ok])
                                    for k in ("grad_step_s", "forward_s", "trivial_s")}
                    s["descent"].update({k: ok[0]["descent"][k] for k in ("steps", "rate", "loss_start",
                                                                          "loss_end")})
            else:
                s = {k: _median([r.get(k) for r in ok])
                     for k in ("import_s", "after_import_s", "to_first_s", "process_s", "steady_s", "cache_files",
                               "cache_bytes")}
            s["processes"] = len(ok)
            s["failed"] = len(rs) - len(ok)
            if len(rs) > len(ok):
                s["error"] = next(r["error"] for r in rs if "error" in r)
            out[case][kind] = s
    return out


def agreement(kinds: dict) -> dict:
    """The sum of the gradient's components from srcgrad and from JAX (every process): the largest relative
    difference from the first srcgrad one (a check that they computed the same thing)."""
    sums = {k: [r["checksum"] for r in kinds.get(k, []) if "checksum" in r]
            for k in ("srcgrad_cold", "srcgrad_warm", "jax")}
    ref = next((v[0] for v in sums.values() if v), None)
    if ref is None:
        return {}
    worst = max(abs(x - ref) / max(abs(ref), 1e-300) for v in sums.values() for x in v)
    return {"gradient_sum": ref, "max_rel_diff": worst, "compared": {k: len(v) for k, v in sums.items()}}


def loads(runs: dict) -> list[float]:
    return [r[k] for kinds in runs.values() for rs in kinds.values() for r in rs
            for k in ("load_1min_at_start", "load_1min_at_end") if k in r]


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------

def _t(s: dict | None, key: str = "after_import_s") -> str:
    if not s:
        return "-"
    if s.get("processes", 0) == 0:
        return "**failed**"
    return common.fmt_time(s.get(key))


def _us(v) -> str:
    return "-" if v is None else f"{v * 1e6:.3g} us"


def first_call_table(result: dict) -> tuple[list[str], list[list[str]]]:
    cols = ["function", "import srcgrad", "srcgrad cold", "srcgrad warm", "Numba fwd cold", "Numba fwd warm",
            "import jax", "JAX jit(grad)"]
    rows = []
    for case, s in result["summary"].items():
        rows.append([case, _t(s.get("srcgrad_cold"), "import_s"), _t(s.get("srcgrad_cold")), _t(s.get("srcgrad_warm")),
                     _t(s.get("numba_cold")), _t(s.get("numba_warm")), _t(s.get("jax"), "import_s"),
                     _t(s.get("jax"))])
    return cols, rows


def process_table(result: dict) -> tuple[list[str], list[list[str]]]:
    cols = ["function"] + [KINDS[k] for k in KINDS] + ["cache directories after cold"]
    rows = []
    for case, s in result["summary"].items():
        cold = s.get("srcgrad_cold") or {}
        cache = (f"{cold['cache_files']:.0f} files, {common.fmt_bytes(cold['cache_bytes'])}"
                 if cold.get("cache_files") is not None else "-")
        rows.append([case] + [_t(s.get(k), "process_s") for k in KINDS] + [cache])
    return cols, rows


def overhead_table(result: dict) -> tuple[list[str], list[list[str]]]:
    cols = ["function", "arguments", "srcgrad grad", "g.njit", "Numba forward", "trivial njit", "grad - trivial",
            "grad - g.njit"]
    rows = []
    for case, s in result["summary"].items():
        o = s.get("overhead")
        if not o or "tiny" not in o:
            continue
        for part, label in (("tiny", "tiny"), ("full", "benchmark size")):
            p = o[part]
            njit = p.get("srcgrad_njit")   # measured on tiny arguments only
            rows.append([case, label, _us(p["srcgrad_grad"]), _us(njit), _us(p["numba_forward"]),
                         _us(p["trivial_njit"]), _us(p["srcgrad_grad"] - p["trivial_njit"]),
                         _us(None if njit is None else p["srcgrad_grad"] - njit)])
        if "descent" in o:
            d = o["descent"]
            rows.append([case, f"{d['steps']} descent steps (per step)", _us(d["grad_step_s"]), "-",
                         _us(d["forward_s"]), _us(d["trivial_s"]), _us(d["grad_step_s"] - d["trivial_s"]), "-"])
    return cols, rows


def comparison_table(result: dict, before: dict) -> tuple[list[str], list[list[str]]]:
    cols = ["function", "srcgrad cold before", "srcgrad cold now", "srcgrad warm before", "srcgrad warm now",
            "tiny-call overhead before", "now"]
    rows = []

    def ovh(s):
        o = (s or {}).get("overhead") or {}
        return _us(o["tiny"]["srcgrad_grad"] - o["tiny"]["trivial_njit"]) if "tiny" in o else "-"

    for case, s in result["summary"].items():
        b = before["summary"].get(case, {})
        rows.append([case, _t(b.get("srcgrad_cold")), _t(s.get("srcgrad_cold")), _t(b.get("srcgrad_warm")),
                     _t(s.get("srcgrad_warm")), ovh(b), ovh(s)])
    return cols, rows


def _describe_run(result: dict) -> str:
    src = result["srcgrad"]
    lo, hi = result["load_1min_range"]
    end = result.get("srcgrad_at_end") or {}
    changed = ""
    if end and (end.get("commit"), end.get("srcgrad_dirty")) != (src["commit"], src["srcgrad_dirty"]):
        changed = (f" (the checkout changed during the run: at the end {(end['commit'] or '?')[:7]}"
                   f"{', srcgrad/ modified' if end['srcgrad_dirty'] else ''})")
    return (f"srcgrad of `{src['label']}` at commit {(src['commit'] or '?')[:7]}"
            f"{' (srcgrad/ modified)' if src['srcgrad_dirty'] else ''}{changed}; medians over {result['repeat']} "
            f"process(es) each; 1-minute load average {lo:.2f}-{hi:.2f} on {result['machine']['cpu_count']} CPUs; "
            f"{result['machine']['date_utc']}, {result['total_wall_s']:.0f} s")


def markdown_section(result: dict, before: dict | None = None) -> str:
    lines = ["## First call (`python -m bench.first_call`)", "",
             "How long a fresh process waits for its first gradient. Each cell is the median over fresh "
             "processes, from after the library's import to the first result (the import on its own in the "
             "*import* columns). *cold*: `SRCGRAD_CACHE_DIR` and `NUMBA_CACHE_DIR` new and empty; *warm*: a "
             "second process with the same directories. The Numba forward is `numba.njit(cache=True)` of the "
             "same user function (value only); JAX is `jax.jit(jax.grad(...))` of the `jax.numpy` version, "
             "compiled in every process. Functions: `bench/first_call_functions.py`.", ""]
    lines += md_table(*first_call_table(result))
    agree = {c: ks.get("agreement") or {} for c, ks in result["summary"].items()}
    worst = max((a["max_rel_diff"] for a in agree.values() if a), default=None)
    if worst is not None:
        verdict = "agree" if worst < 1e-9 else "**disagree**"
        lines += [f"The gradients of every srcgrad and JAX process {verdict}: the sums of their components differ "
                  f"by {worst:.1e} (relative) at most.", ""]
    lines += ["The whole process (interpreter start-up to exit, as the parent sees it), and what the srcgrad cold run "
              "left in its two cache directories (generated modules and Numba's cache):", ""]
    lines += md_table(*process_table(result))
    cols, rows = overhead_table(result)
    if rows:
        lines += ["Per call after warm-up (median of samples of back-to-back calls): the srcgrad gradient, the "
                  "Numba forward and a trivial njit function (returns 0.0) of the same arguments; *tiny*: the "
                  "smallest inputs of the same types (MLP 2-2-2 batch 1, 2x2 data, one Euler step, 2x1 least "
                  "squares), where dispatch and argument handling are all there is:", ""]
        lines += md_table(cols, rows)
    if before is not None:
        lines += [f"Before and now (before: {_describe_run(before)}):", ""]
        lines += md_table(*comparison_table(result, before))
    failed = [(c, k, s["error"]) for c, ks in result["summary"].items() for k, s in ks.items() if s.get("error")]
    for c, k, e in failed:
        lines += [f"**{c}, {k} failed** in {result['summary'][c][k]['failed']} process(es): `{e[:300]}`", ""]
    lines.append(f"<sub>{_describe_run(result)}.</sub>")
    return "\n".join(lines)


def print_tables(result: dict, before: dict | None = None) -> None:
    print(markdown_section(result, before))


def update_docs(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, _ = common.section_markers(SECTION)
    if begin not in text and INSERT_BEFORE in text:
        i = text.index(INSERT_BEFORE)
        block = common.replace_marked_section("", SECTION, section).lstrip("\n")
        text = text[:i] + block + "\n" + text[i:]
    else:
        text = common.replace_marked_section(text, SECTION, section)
    path.write_text(text)


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.first_call", description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=None, help="fresh processes per measurement (default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="1 process per measurement, fewer overhead samples; writes bench/results/local/")
    ap.add_argument("--cases", default=",".join(CASE_NAMES), help=f"comma-separated, of {', '.join(CASE_NAMES)}")
    ap.add_argument("--srcgrad", default=str(common.PROJECT_ROOT),
                    help="checkout whose srcgrad package to measure (default: this one)")
    ap.add_argument("--label", default=None, help="what to call that srcgrad in the tables (default: its path)")
    ap.add_argument("--out", default=None, help="JSON file (default bench/results/first_call.json; "
                                                "bench/results/local/first_call_quick.json with --quick)")
    ap.add_argument("--docs", default=None,
                    help="Markdown file whose 'first_call' section to regenerate, or 'none' (default: "
                         "docs/benchmarks.md when writing bench/results/first_call.json, else none)")
    ap.add_argument("--before", default=None,
                    help="an earlier result to compare with in the docs section (default "
                         "bench/results/first_call_before.json when it exists and is not --out); 'none' for none")
    ap.add_argument("--no-jax", action="store_true", help="leave JAX out")
    ap.add_argument("--no-overhead", action="store_true", help="leave the per-call overhead out")
    ap.add_argument("--samples", type=int, default=None, help="timing samples per peer for the per-call overhead")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per process")
    ap.add_argument("--from-json", default=None, help="no run: print (and write into --docs) the tables of this result")
    opts = ap.parse_args(argv)

    before_path = None if opts.before == "none" else Path(opts.before) if opts.before else BEFORE_JSON
    if opts.from_json:
        out = Path(opts.from_json)
        result = json.loads(out.read_text())
    else:
        cases = [c for c in opts.cases.split(",") if c]
        bad = [c for c in cases if c not in CASE_NAMES]
        if bad:
            ap.error(f"unknown case(s) {', '.join(bad)}; choose from {', '.join(CASE_NAMES)}")
        repeat = opts.repeat or (1 if opts.quick else 3)
        samples = opts.samples or (15 if opts.quick else 51)
        out = Path(opts.out) if opts.out else (common.LOCAL_RESULTS_DIR / "first_call_quick.json" if opts.quick
                                               else DEFAULT_JSON)
        root = Path(opts.srcgrad).resolve()
        if not (root / "srcgrad" / "__init__.py").exists():
            ap.error(f"no srcgrad package in {root}")
        jax = not opts.no_jax
        if jax:
            import importlib.util
            jax = importlib.util.find_spec("jax") is not None
        machine = common.machine_info(("numpy", "numba", "llvmlite", "jax"))
        git_at_start = git_state(root)
        t0 = time.perf_counter()

        def say(r, case, kind, res):
            what = (f"error {res['error']}" if "error" in res else
                    f"after import {res['after_import_s']:.2f} s, import {res['import_s']:.2f} s"
                    if "after_import_s" in res else "ok")
            print(f"[{time.perf_counter() - t0:6.0f} s] repeat {r + 1}/{repeat} {case:15s} {kind:13s} {what} "
                  f"(load {res.get('load_1min_at_start', float('nan')):.2f}, process {res['process_s']:.2f} s)",
                  file=sys.stderr, flush=True)

        runs = measure(cases, repeat, root, jax, not opts.no_overhead, samples, opts.timeout, say)
        lo_hi = loads(runs)
        srcgrad_file = next((r["srcgrad_file"] for ks in runs.values() for rs in ks.values() for r in rs
                             if "srcgrad_file" in r), None)
        result = {
            "benchmark": "first_call", "mode": "quick" if opts.quick else "full", "repeat": repeat,
            "cases": {c: first_call_functions.CASES[c][4] for c in cases},
            "srcgrad": {"root": str(root), "label": opts.label or str(root), "file": srcgrad_file,
                        **git_at_start},
            "srcgrad_at_end": git_state(root),
            "jax": jax, "overhead_samples": samples,
            "machine": machine,
            "load_1min_range": [min(lo_hi), max(lo_hi)] if lo_hi else [float("nan")] * 2,
            "loadavg_at_end": list(os.getloadavg()),
            "summary": summarize(runs), "runs": runs,
            "total_wall_s": time.perf_counter() - t0,
        }
        common.write_json(out, result)
        print(f"wrote {out}", file=sys.stderr)
    before = None
    if before_path is not None and before_path.exists() and before_path.resolve() != out.resolve():
        before = json.loads(before_path.read_text())
    print_tables(result, before)
    docs = (None if opts.docs == "none" else Path(opts.docs) if opts.docs
            else DOCS if out.resolve() == DEFAULT_JSON.resolve() else None)
    if docs is not None:
        update_docs(docs, markdown_section(result, before))
        print(f"updated the '{SECTION}' section of {docs}", file=sys.stderr)
    warn = None if opts.from_json else common.load_warning({"loadavg_1_5_15": [result["load_1min_range"][1]]})
    if warn:
        print(warn, file=sys.stderr)
    failed = any(s.get("failed") for ks in result["summary"].values() for s in ks.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
