"""Markdown for docs/benchmarks.md: one section per workload, and the summary of the goals.

The suite (``python -m bench``) regenerates each section between its markers
(``<!-- bench:NAME:begin -->`` ... ``<!-- bench:NAME:end -->``): sections of the
generic workloads come from ``runner.markdown_section``; the three benchmarks
with their own scripts (``gmm``, ``rnn``, ``mlp``) from their JSON here.
"""

from __future__ import annotations

from bench import common

LEGACY_TEXT = {
    "gmm": ("GMM, ADBench's objective over n (`python -m bench.gmm`)", """
The ADBench Gaussian-mixture objective (d = 10, k = 25; gradient with respect to
alphas, means and the inverse-Cholesky factors: 1,925 numbers) over the number
of points `n`, written as plain loops in two ways: **loops**, a transliteration
of ADBench's C++ reference, which reuses work arrays for every (point,
component) pair, and **scalar**, the same math without overwriting arrays in
the data loop. Peers: the Numba forward of each, JAX `jit` and `jit(grad)` of a
vectorised `jax.numpy` version (x64). GradBench's formulation, over its (d, k)
grid and with every peer, is the `gmm_grid` section."""),
    "rnn": ("RNN (`python -m bench.rnn`)", """
`h = np.tanh(W @ h + x[t])` for T = 1,000 steps, gradient with respect to W and
x, beside a hand-written Numba adjoint and JAX `lax.scan` (`jit(grad)`); the
full run also compiles JAX's unrolled Python loop at H = 32 in a subprocess."""),
    "mlp": ("MLP with helper functions (`python -m bench.mlp`)", """
A training-step loss for a 2-layer MLP (batch 256, 32 inputs, 64 hidden units,
10 classes, float64), written with helpers `dense`, `relu`,
`softmax_cross_entropy` (`srcgrad[calls]`) and inlined by hand
(`srcgrad[inlined]`); gradient with respect to both layers' weights and biases,
beside JAX `jit(grad)` and PyTorch autograd."""),
}


def _cell(s: dict | None) -> str:
    if s is None:
        return "-"
    return f"{common.fmt_time(s['median'])} ±{100 * s['iqr'] / s['median']:.0f}%"


def _fr(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _footer(result: dict, name: str, cmd: str) -> str:
    m = result.get("machine", {})
    commit = ((m.get("git") or {}).get("commit") or "?")[:7]
    mode = "quick" if (result.get("config") or {}).get("quick") else "full"
    wall = result.get("total_bench_wall_s") or 0
    return (f"<sub>{mode} run of `{cmd}` at commit {commit}"
            f"{' (dirty tree)' if (m.get('git') or {}).get('dirty') else ''}, {m.get('date_utc', '?')}, "
            f"{wall:.0f} s.</sub>")


def _first_call_rows(first_call: dict) -> list[str]:
    rows = []
    for key in sorted(k for k in (first_call or {}) if k.endswith("_summary")):
        s = first_call[key]
        rows.append(f"| {key[: -len('_summary')]} | {common.fmt_time(s['first_call_total_s']['median'])} | "
                    f"{common.fmt_time(s['process_wall_s']['median'])} |")
    return rows


def _tape_lines(name: str, tape: dict) -> list[str]:
    """srcgrad's tape: per step for the RNN (beside the hand adjoint's), per variant
    and size for the GMM (and per (point, component) pair)."""
    out: list[str] = []
    if name == "rnn" and tape:
        out += ["srcgrad's tape (`g.tape_bytes`), per step, beside what the hand-written "
                "adjoint stores (h of each step):", "",
                "| H | srcgrad tape | per step | hand per step |", "|---|---|---|---|"]
        for H, t in tape.items():
            if "bytes" not in t:
                out.append(f"| {int(H):,} | {t.get('error', '-')} | - | - |")
                continue
            out.append(f"| {int(H):,} | {common.fmt_bytes(t['bytes'])} | "
                       f"{t['bytes_per_step']:,.0f} B | {t['hand_bytes_per_step']:,} B |")
        out.append("")
    elif name == "gmm" and tape:
        out += ["srcgrad's tape (`g.tape_bytes`):", "",
                "| variant | n | tape | per (point, component) |", "|---|---|---|---|"]
        for variant, per_n in tape.items():
            for n, t in per_n.items():
                if "bytes" not in t:
                    continue
                out.append(f"| {variant} | {int(n):,} | {common.fmt_bytes(t['bytes'])} | "
                           f"{t['bytes_per_point_component']:.3g} B |")
        out.append("")
    return out


def legacy_section(name: str, result: dict, image: str | None) -> str:
    title, text = LEGACY_TEXT[name]
    lines = [f"## {title}", "", text.strip(), ""]
    if name == "mlp":
        t = result["timings"]
        peers = [p for p in runner_order(t)]
        lines.append("| " + " | ".join(f"`{p}`" for p in peers) + " |")
        lines.append("|---" * len(peers) + "|")
        lines.append("| " + " | ".join(_cell(t.get(p)) for p in peers) + " |")
        lines.append("")
        rs = {k: v for k, v in result["ratios"].items() if v is not None}
        if rs:
            lines.append("| ratio | " + " | ".join(rs) + " |")
            lines.append("|---" * (len(rs) + 1) + "|")
            lines.append("| | " + " | ".join(_fr(v) for v in rs.values()) + " |")
            lines.append("")
    else:
        sizes = list(result["timings"])
        size_name = "n" if name == "gmm" else "H"
        peers = runner_order({p: None for t in result["timings"].values() for p in t})
        lines.append(f"Median wall time per call, ± IQR as % of the median ({result['config']['repeats']} "
                     "repeats):")
        lines.append("")
        lines.append(f"| {size_name} | " + " | ".join(f"`{p}`" for p in peers) + " |")
        lines.append("|---" * (len(peers) + 1) + "|")
        for sz in sizes:
            lines.append(f"| {int(sz):,} | " + " | ".join(_cell(result["timings"][sz].get(p)) for p in peers) + " |")
        lines.append("")
        keys = [k for k in next(iter(result["ratios"].values()), {}) if k.startswith("srcgrad")]
        if keys:
            lines.append(f"| {size_name} | " + " | ".join(keys) + " |")
            lines.append("|---" * (len(keys) + 1) + "|")
            for sz in sizes:
                lines.append(f"| {int(sz):,} | " + " | ".join(_fr(result["ratios"][sz].get(k)) for k in keys) + " |")
            lines.append("")
        lines += _tape_lines(name, result.get("tape") or {})
        if name == "rnn" and result.get("jax_unrolled"):
            u = result["jax_unrolled"]
            if u.get("status") == "ok":
                lines.append(f"JAX `jit(grad)` of the unrolled Python loop (H = {u.get('H')}, T = {u.get('T')}): "
                             f"compile and first call {common.fmt_time(u['first_call_total_s'])}, then "
                             f"{common.fmt_time(u['steady_call_median_s'])} per call.")
            else:
                lines.append(f"JAX `jit(grad)` of the unrolled Python loop: {u.get('status')}.")
            lines.append("")
    status = result.get("srcgrad_status")
    if isinstance(status, dict):
        bad = {k: v for k, v in status.items() if v != "ok"}
    else:
        bad = {"srcgrad": status} if status not in (None, "ok") else {}
    for k, v in bad.items():
        lines.append(f"**{k}: {v}**")
        lines.append("")
    fc = _first_call_rows(result.get("first_call") or {})
    if fc:
        lines.append("First call in a fresh process (construct + compile + one call), and the whole process:")
        lines.append("")
        lines.append("| peer | first call | process |")
        lines.append("|---|---|---|")
        lines.extend(fc)
        lines.append("")
    if image:
        lines.append(f"![{name}]({image})")
        lines.append("")
    lines.append(_footer(result, name, f"python -m bench --only {name}"))
    return "\n".join(lines)


def runner_order(peers) -> list[str]:
    def key(p):
        for i, fam in enumerate(("numba", "hand", "srcgrad", "jax", "torch", "autograd", "tangent")):
            if p.startswith(fam):
                return (i, p)
        return (99, p)
    return sorted(peers, key=key)


# --------------------------------------------------------------------------
# the goals
# --------------------------------------------------------------------------

def _legacy_goal_rows(name: str, result: dict) -> list[dict]:
    rows = []
    if name == "mlp":
        t = result["timings"]
        for v in ("srcgrad[inlined]", "srcgrad[calls]"):
            if v in t:
                row = {"workload": f"mlp {v}", "kind": "array", "size": "n=256",
                       "srcgrad/forward": t[v]["median"] / t["numba_fwd"]["median"]}
                if "jax_grad" in t:
                    row["srcgrad/jax"] = t[v]["median"] / t["jax_grad"]["median"]
                if "torch_autograd" in t:
                    row["torch/srcgrad"] = t["torch_autograd"]["median"] / t[v]["median"]
                rows.append(row)
        return rows
    for sz, t in result["timings"].items():
        for v, fwd, jx, hand in (("srcgrad", "numba_fwd", "jax_grad", None),
                                 ("srcgrad_scalar", "numba_fwd_scalar", "jax_grad", None),
                                 ("srcgrad", "numba_fwd", "jax_scan_grad", "hand_adjoint")):
            if v in t and fwd in t and jx in t:
                row = {"workload": f"{name} {v}" if name == "gmm" else name, "kind": "loop" if name == "rnn" else
                       "array", "size": f"{'n' if name == 'gmm' else 'H'}={int(sz):,}",
                       "srcgrad/forward": t[v]["median"] / t[fwd]["median"],
                       "srcgrad/jax": t[v]["median"] / t[jx]["median"]}
                if hand and hand in t:
                    row["srcgrad/hand"] = t[v]["median"] / t[hand]["median"]
                rows.append(row)
    return rows


def goal_rows(name: str, result: dict) -> list[dict]:
    """One row per (workload, size): srcgrad/forward, srcgrad/hand, srcgrad/jax (best JAX peer) and
    torch/autograd/tangent over srcgrad (loop versions; extrapolated ones marked)."""
    if "sizes" not in result:
        return _legacy_goal_rows(name, result)
    rows = []
    for rec in result["sizes"]:
        g = result["goals"].get(rec["label"], {})
        r = rec.get("ratios", {})
        if "srcgrad" not in rec["peers"] or "timing" not in rec["peers"]["srcgrad"]:
            rows.append({"workload": name, "kind": result["kind"], "size": rec["label"],
                         "srcgrad": rec["peers"].get("srcgrad", {}).get("status", "not run")})
            continue
        row = {"workload": name, "kind": result["kind"], "size": rec["label"],
               "srcgrad/forward": r.get("srcgrad/forward")}
        if "srcgrad/hand" in g:
            row["srcgrad/hand"] = g["srcgrad/hand"]
        jax = {k: v for k, v in g.items() if k.startswith("srcgrad/jax")}
        if jax:
            best = max(jax, key=jax.get)  # the largest srcgrad/jax: the fastest JAX peer
            row["srcgrad/jax"] = jax[best]
            row["jax_peer"] = best.split("/", 1)[1]
        for lib in ("torch", "autograd", "tangent"):
            if f"{lib}/srcgrad" in g:
                row[f"{lib}/srcgrad"] = g[f"{lib}/srcgrad"]
                row[f"{lib}_extrapolated"] = bool(g.get(f"{lib}/srcgrad_extrapolated"))
        rows.append(row)
    return rows


def summary_section(rows: list[dict], mode: str) -> str:
    lines = ["## Summary: the goals", ""]
    lines.append("Ratios of median times per call at every size of every workload (`a/b` > 1: `a` is "
                 "slower). `srcgrad/jax` is against the fastest JAX peer that ran (named when it is not "
                 "the loop version); *italic*: the other tool was too slow to run at that size and its "
                 "time is extrapolated. Goals: srcgrad within 1.5x of the hand-written adjoint on scalar "
                 "loops; faster than JAX `jit(grad)` on loop-shaped workloads; at least 100x faster than "
                 "PyTorch eager, autograd and tangent-ad on scalar loops.")
    lines.append("")
    lines.append("| workload | kind | size | srcgrad/forward | srcgrad/hand | srcgrad/jax | torch/srcgrad | "
                 "autograd/srcgrad | tangent/srcgrad |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "srcgrad" in r and isinstance(r["srcgrad"], str):
            lines.append(f"| {r['workload']} | {r['kind']} | {r['size']} | srcgrad {r['srcgrad'][:120]} "
                         "| | | | | |")
            continue

        def f(key, r=r):
            v = r.get(key)
            if v is None:
                return "-"
            txt = f"{v:.3g}"
            lib = key.split("/")[0]
            if r.get(f"{lib}_extrapolated"):
                txt = f"*{txt}*"
            if key == "srcgrad/hand" and r.get("kind") == "scalar_loop":
                txt += " ✓" if v <= 1.5 else " ✗"
            if key == "srcgrad/jax":
                txt += " ✓" if v < 1 else " ✗"
                if r.get("jax_peer") not in (None, "jax"):
                    txt += f" ({r['jax_peer']})"
            if key.endswith("/srcgrad") and r.get("kind") == "scalar_loop":
                txt += " ✓" if v >= 100 else " ✗"
            return txt

        lines.append(f"| {r['workload']} | {r['kind']} | {r['size']} | " + " | ".join(
            f(k) for k in ("srcgrad/forward", "srcgrad/hand", "srcgrad/jax", "torch/srcgrad", "autograd/srcgrad",
                           "tangent/srcgrad")) + " |")
    lines.append("")
    lines.append(f"<sub>From the {mode} results in `bench/results/`; ✓/✗ mark the goals where they apply "
                 "(1.5x and 100x on `scalar_loop` workloads, JAX everywhere).</sub>")
    return "\n".join(lines)

