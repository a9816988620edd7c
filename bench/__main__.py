"""The benchmark suite: every workload, every peer, results, plots and docs.

Run from the project root::

    python -m bench                      # full run (about 40 minutes on 2 cores): saves the results in
                                         # bench/results and regenerates docs/benchmarks.md
    python -m bench --quick              # smoke run of every workload, small sizes (about a minute
                                         # with warm compile caches)
    python -m bench --tiny --out-dir D   # seconds per workload, no fresh processes (tests)
    python -m bench --only ode,det       # some workloads (any mode)
    python -m bench --list               # the workloads

Each workload is its module's ``main(argv)`` (``python -m bench.<module>`` runs one
alone); each writes ``<name>[_quick|_tiny].json`` (with the machine description)
and a ``.png``.  The tracked files (``bench/results/*``, ``docs/benchmarks.md``) are
written only by the full run, which regenerates, in ``docs/benchmarks.md``, the
section of every workload it ran and the summary of the goals, each between its
markers (results of workloads not run this time are left as they are), or with
``--save``; any other run writes into ``bench/results/local/`` (untracked) and says
so.  ``suite.json`` records what ran, how long it took and each workload's exit status.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

from bench import common

DOCS = common.PROJECT_ROOT / "docs" / "benchmarks.md"

# name, module, extra argv (before the mode flags), kind ("runner": the workload runs on
# bench/runner.py; another kind writes its own Markdown with its module's markdown())
SUITE = [(name, f"bench.{name}", [], "runner") for name in (
    "lotka_volterra", "rosenbrock", "d2l", "lse", "llsq", "ode", "det", "lstm", "ba", "kmeans", "particle",
    "saddle")] + [
    ("gmm_grid", "bench.gmm", ["--grid"], "runner"),
    ("gmm", "bench.gmm", [], "runner"),
    ("rnn_peers", "bench.rnn", ["--all-peers"], "runner"),
    ("rnn", "bench.rnn", [], "runner"),
    ("mlp", "bench.mlp", [], "runner"),
    ("spring", "bench.spring", [], "runner"),
    ("stencil", "bench.stencil", [], "runner"),
    ("stencil2d", "bench.stencil", ["--2d"], "runner"),
    ("memory", "bench.memory", [], "memory"),   # its own tables (bench/memory.py), no runner goals
]
NAMES = [s[0] for s in SUITE]
KINDS = {s[0]: s[3] for s in SUITE}
MODULES = {s[0]: s[1] for s in SUITE}


def pending() -> dict:
    """GradBench evals srcgrad's GradBench tool does not answer yet, with the reasons
    (``bench/gradbench.py``'s ``PENDING``)."""
    from bench.gradbench import PENDING
    return dict(PENDING)


def result_path(out_dir: Path, name: str, mode: str) -> Path:
    return out_dir / (name + ("" if mode == "full" else f"_{mode}") + ".json")


def _argv(extra: list, mode: str, out_dir: Path, opts) -> list:
    argv = list(extra) + ({"quick": ["--quick"], "tiny": ["--tiny"]}.get(mode, [])) + ["--out-dir", str(out_dir)]
    if opts.no_subprocess:
        argv.append("--no-subprocess")
    if opts.repeats:
        argv += ["--repeats", str(opts.repeats)]
    return argv


def update_docs(path: Path, names: list[str], out_dir: Path, mode: str) -> list[str]:
    """Regenerate the sections of ``names`` (from their JSON) and the summary in ``path``."""
    from bench import report
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    written = []
    rel = os.path.relpath(out_dir, path.parent)
    for name in names:
        jp = result_path(out_dir, name, mode)
        if not jp.exists():
            continue
        result = json.loads(jp.read_text())
        png = jp.with_suffix(".png")
        image = f"{rel}/{png.name}" if png.exists() else None
        if KINDS[name] == "runner":
            section = report.markdown_section(result, image)
        else:
            section = importlib.import_module(MODULES[name]).markdown(result) \
                + (f"\n\n![{name}]({image})\n" if image else "")
        text = common.replace_marked_section(text, name, section)
        written.append(name)
    rows = []
    for name in NAMES:
        jp = result_path(out_dir, name, mode)
        if jp.exists() and KINDS[name] == "runner":
            rows += report.goal_rows(name, json.loads(jp.read_text()))
    text = common.replace_marked_section(text, "summary", report.summary_section(rows, mode))
    path.write_text(text)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="small sizes, few repeats (a few minutes)")
    g.add_argument("--tiny", action="store_true", help="smallest sizes, no fresh processes (seconds per workload)")
    ap.add_argument("--only", default="", help="comma-separated workload names (see --list)")
    ap.add_argument("--skip", default="", help="comma-separated workload names to leave out")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    ap.add_argument("--save", action="store_true",
                    help="write the results into bench/results (tracked), as the full run that regenerates the "
                         "docs does")
    ap.add_argument("--out-dir", default=None,
                    help="where the JSON and PNG files go (default bench/results when saving, else "
                         "bench/results/local)")
    ap.add_argument("--docs", default=None,
                    help="Markdown file whose sections to regenerate (default: docs/benchmarks.md after a full "
                         "run, none otherwise); 'none' for none")
    ap.add_argument("--repeats", type=int, default=None, help="timing samples per peer and size")
    ap.add_argument("--no-subprocess", action="store_true", help="skip the fresh-process measurements")
    opts = ap.parse_args(argv)
    if opts.list:
        for name, module, extra, _kind in SUITE:
            print(f"{name:16s} python -m {module} {' '.join(extra)}")
        for name, why in pending().items():
            print(f"{name:16s} not in srcgrad's GradBench tool yet: {why[:150]}")
        return 0
    mode = "tiny" if opts.tiny else ("quick" if opts.quick else "full")
    only = [n for n in opts.only.split(",") if n]
    unknown = [n for n in only + [n for n in opts.skip.split(",") if n] if n not in NAMES]
    if unknown:
        ap.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    selected = [s for s in SUITE if (not only or s[0] in only) and s[0] not in opts.skip.split(",")]
    docs = None if opts.docs == "none" else (Path(opts.docs) if opts.docs else (DOCS if mode == "full" else None))
    save = opts.save or docs == DOCS
    out_dir = Path(opts.out_dir) if opts.out_dir else (common.RESULTS_DIR if save else common.LOCAL_RESULTS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    machine = common.machine_info()
    runs = {}
    for k, (name, module, extra, _kind) in enumerate(selected, 1):
        start = time.perf_counter()
        print(f"\n=== [{k}/{len(selected)}] {name} ({mode}) -- suite at {start - t0:.0f} s ===", file=sys.stderr,
              flush=True)
        try:
            mod = importlib.import_module(module)
            rc = mod.main(_argv(extra, mode, out_dir, opts))
            status = "ok" if rc in (0, None) else f"exit {rc}"
        except SystemExit as exc:
            status = f"exit {exc.code}"
        except Exception as exc:  # noqa: BLE001 - one broken workload does not stop the suite
            traceback.print_exc()
            status = f"crashed: {common.describe_exception(exc)}"
        wall = time.perf_counter() - start
        runs[name] = {"status": status, "wall_s": wall, "json": str(result_path(out_dir, name, mode))}
        print(f"=== [{k}/{len(selected)}] {name}: {status} in {wall:.0f} s ===", file=sys.stderr, flush=True)

    written = []
    if docs is not None:
        written = update_docs(docs, [n for n in runs if runs[n]["status"] == "ok"], out_dir, mode)
    summary = {"mode": mode, "machine": machine, "workloads": runs, "pending": sorted(pending()),
               "docs": None if docs is None else str(docs), "docs_sections": written,
               "total_wall_s": time.perf_counter() - t0}
    common.write_json(out_dir / ("suite" + ("" if mode == "full" else f"_{mode}") + ".json"), summary)
    print("\nsuite:", file=sys.stderr)
    for name, r in runs.items():
        print(f"  {name:16s} {r['status']:10s} {r['wall_s']:7.1f} s", file=sys.stderr)
    print(f"  total {summary['total_wall_s']:.0f} s; results in {out_dir}"
          + (f"; updated {docs}: {', '.join(written)}" if docs else ""), file=sys.stderr)
    return 0 if all(r["status"] == "ok" for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
