"""On-demand differential fuzzing of srcgrad (the slow tier of tests/test_fuzz.py, at scale).

    python -m tests.support.fuzz_run --programs 2000 [--jit] [--seed S] [--profile full|fast|jit]

Generates random programs (tests/support/progfuzz.py), runs ``srcgrad.value_and_grad`` on each at
its points and compares value and gradient with finite differences away from kinks and
with autograd. Prints: programs run, points checked, points skipped as near a kink,
programs srcgrad rejected (grouped by error message) and failures. Each failure is saved,
with a shrunk version of the program, under ``<tempdir>/fuzz_failures/``.

Program ``i`` of seed ``S`` is ``progfuzz.random_program(f"{S}:{i}", profile)``, so a
failure is reproduced with ``--seed S --start i --programs 1``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.support.fuzz_run", description=__doc__.split("\n")[0])
    ap.add_argument("--programs", type=int, default=1000, help="how many programs (default 1000)")
    ap.add_argument("--start", type=int, default=0, help="index of the first program")
    ap.add_argument("--seed", default="0", help="campaign seed (default 0)")
    ap.add_argument("--jit", action="store_true", help="compile with Numba (about 1-5 s a program)")
    ap.add_argument("--profile", choices=["full", "fast", "jit", "big", "jax"], default=None,
                    help="program size limits (default: full, or jit with --jit; big: "
                         "deeper nesting, more statements and helpers)")
    ap.add_argument("--avoid-known", action="store_true",
                    help="leave out the constructs of open bugs (progfuzz.OPEN_BUGS) and count "
                         "their recognised crashes as known, to look for other bugs")
    ap.add_argument("--no-autograd", action="store_true", help="finite differences only")
    ap.add_argument("--shrink-budget", type=float, default=90.0,
                    help="seconds spent shrinking each failing program (0: no shrinking)")
    ap.add_argument("--max-shrinks", type=int, default=20,
                    help="shrink at most this many failures")
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "fuzz_failures"),
                    help="where failing programs are saved")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)

    # random programs never repeat: keep their generated adjoints out of the user's cache
    os.environ.setdefault("SRCGRAD_CACHE_DIR",
                          os.path.join(tempfile.gettempdir(), "srcgrad_fuzz_cache"))
    from . import progfuzz as pf

    profile = {"full": pf.FULL, "fast": pf.FAST, "jit": pf.JIT, "big": pf.BIG, "jax": pf.JAX}[
        args.profile or ("jit" if args.jit else "full")]
    if args.avoid_known:
        profile = profile.avoiding_open_bugs()
    out_dir = Path(args.out)
    stats = pf.Stats()
    saved: list[str] = []
    shrinks = 0
    t0 = time.monotonic()
    for i in range(args.start, args.start + args.programs):
        prog = pf.random_program(f"{args.seed}:{i}", profile)
        outcome = pf.check_program(prog, jit=args.jit, use_autograd=not args.no_autograd,
                                   known=args.avoid_known)
        stats.add(outcome, prog, index=i)
        if outcome.status == "invalid":
            print(f"[{i}] INVALID PROGRAM (generator bug): {outcome.invalid}\n{prog.source}",
                  flush=True)
        for k, failure in enumerate(outcome.failures):
            shrunk = None
            if args.shrink_budget > 0 and shrinks < args.max_shrinks and k == 0:
                shrinks += 1
                shrunk = pf.shrink_program(failure, budget=args.shrink_budget)
            path = _save(out_dir, args.seed, i, k, failure, shrunk)
            saved.append(str(path))
            print(f"[{i}] FAILURE {failure.kind} (jit={args.jit}), saved to {path}\n"
                  f"{failure.detail}\n--- shrunk program ---\n{shrunk or failure.source}",
                  flush=True)
        done = i - args.start + 1
        if not args.quiet and done % 100 == 0:
            print(f"... {done} programs, {stats.ok} passed, {sum(stats.rejected.values())} "
                  f"rejected, {len(stats.failures)} failures, "
                  f"{time.monotonic() - t0:.0f} s", flush=True)
    print()
    print(f"seed {args.seed}, programs {args.start}..{args.start + args.programs - 1}, "
          f"jit={args.jit}, profile={args.profile or ('jit' if args.jit else 'full')}"
          f"{' avoiding open bugs' if args.avoid_known else ''}, "
          f"{time.monotonic() - t0:.0f} s")
    print(stats.summary())
    if saved:
        print(f"failures saved to {out_dir}:")
        for p in saved:
            print(f"  {p}")
    return 1 if stats.failures or stats.invalid else 0


def _save(out_dir: Path, seed: str, i: int, k: int, failure, shrunk: str | None) -> Path:
    from .progfuzz import _fmt_args

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"seed{seed}_prog{i}_{k}_{failure.kind}{'_jit' if failure.jit else ''}.py"
    header = [
        f"# srcgrad fuzz failure: {failure.kind} (jit={failure.jit})",
        f"# reproduce: python -m tests.support.fuzz_run --seed {seed} --start {i} --programs 1"
        + (" --jit" if failure.jit else ""),
        f"# entry {failure.entry}, wrt={failure.wrt!r}",
        f"# at {_fmt_args(failure.params, failure.point)}",
        *[f"# {line}" for line in failure.detail.splitlines()],
    ]
    body = failure.source
    if shrunk and shrunk != failure.source:
        body = shrunk + "\n\n# ---- original program ----\n" + "\n".join(
            f"# {line}" for line in failure.source.splitlines())
    path.write_text("\n".join(header) + "\n\n" + body + "\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
