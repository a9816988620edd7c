"""A run's tables, on stdout and in docs/benchmarks.md: one section per workload, and the summary of the goals.

The suite (``python -m bench``) regenerates each section between its markers
(``<!-- bench:NAME:begin -->`` ... ``<!-- bench:NAME:end -->``) from the workload's
result (:func:`markdown_section`); :func:`print_result` prints the same tables after a
run, and :func:`summary_section` gathers the goals of every workload.
"""

from __future__ import annotations

from bench import common, results


def peer_order(result: dict) -> list[str]:
    """The peers by family (``results.FAMILY_ORDER``), a family's forwards first, then by name."""
    def key(n):
        p = result["peers"][n]
        fam = results.FAMILY_ORDER.index(p["family"]) if p["family"] in results.FAMILY_ORDER else 99
        return fam, p.get("kind") != "forward", n
    return sorted(result["peers"], key=key)


def cell(rec: dict, name: str, md: bool = False) -> str:
    """One peer's time at one size (or why there is none)."""
    p = rec["peers"].get(name)
    if p is None:
        return "-"
    if "timing" in p:
        t = p["timing"]
        return f"{common.fmt_time(t['median'])} ±{100 * t['iqr'] / t['median']:.0f}%"
    if "extrapolated_s" in p:
        return f"~{common.fmt_time(p['extrapolated_s'])} (extrap.)"
    st = p.get("status", "")
    if st.startswith("unavailable"):
        return "n/a"
    if st.startswith("failed"):
        return "**failed**" if md else "FAILED"
    if st.startswith("not run"):
        return "not run"
    return "-"


def ratio_columns(result: dict) -> list[str]:
    """The ratios the tables show: for each srcgrad peer its gradient/forward ratio and its goals (against
    the hand-written adjoint, JAX, the Python-taping peers), srcgrad over the other srcgrad peers, and every
    other peer that has its own forward over it (``jax/jax_fwd``)."""
    goal_keys = {k for g in result["goals"].values() for k in g if not k.endswith("_extrapolated")}
    measured = {k for rec in result["sizes"] for k in rec.get("ratios", {})}
    srcgrads = results.srcgrad_peers(result)
    order = peer_order(result)
    keys = []
    for s in srcgrads:
        keys.append(results.forward_ratio_key(result, s))
        keys += [k for n in order for k in (f"{s}/{n}", f"{n}/{s}") if k in goal_keys]
        if s == "srcgrad":
            keys += [f"srcgrad/{v}" for v in srcgrads[1:]]
    keys += [results.forward_ratio_key(result, n) for n in order
             if n not in srcgrads and result["peers"][n].get("kind") != "forward"
             and result["peers"][n].get("own_forward", "numba_fwd") != "numba_fwd"]
    return [k for k in dict.fromkeys(keys) if k in goal_keys or k in measured]


def ratio_value(result: dict, rec: dict, key: str) -> float | None:
    """One ratio at one size: a goal, or one of the size's measured ratios."""
    return result["goals"].get(rec["label"], {}).get(key, rec.get("ratios", {}).get(key))


def ratio_cells(result: dict, rec: dict, keys: list[str], md: bool = False) -> list[str]:
    """The ratios ``keys`` at one size (*italic* in Markdown where a time is extrapolated)."""
    g = result["goals"].get(rec["label"], {})
    cells = []
    for k in keys:
        v = ratio_value(result, rec, k)
        txt = "-" if v is None else f"{v:.3g}"
        cells.append(f"*{txt}*" if md and g.get(k + "_extrapolated", False) else txt)
    return cells


def tape_table(result: dict) -> tuple[list[str], list[list[str]]]:
    """srcgrad's tape per size and srcgrad peer, and per the workload's ``tape_unit``, beside the hand-written
    adjoint's (where the workload has one): columns and rows."""
    unit = result["config"].get("tape_unit") or "unit"
    rows = []
    for rec in result["sizes"]:
        tapes = rec.get("tape_bytes", {})
        units = rec.get("tape_units")
        for name in results.srcgrad_peers(result):
            if name in tapes:
                rows.append([rec["label"], name, common.fmt_bytes(tapes[name])]
                            + [_per_unit(tapes[k], units) if units and k in tapes else "-" for k in (name, "hand")])
    columns = ["size", "peer", "tape", f"per {unit}", f"hand per {unit}"]
    if not any("hand" in rec.get("tape_bytes", {}) for rec in result["sizes"]):
        columns, rows = columns[:-1], [r[:-1] for r in rows]
    return columns, rows


def _per_unit(nbytes: float, units: float) -> str:
    v = nbytes / units
    return f"{v:,.0f} B" if v >= 100 else f"{v:.3g} B"


def fresh_rows(result: dict) -> list[list[str]]:
    """The fresh-process measurements, a row per process: build + first call, process wall time, to the first
    result, peak extra memory, srcgrad's tape."""
    rows = []
    fresh = (result.get("fresh_process") or {}).get("peers", {})
    fresh_size = (result.get("fresh_process") or {}).get("memory_size")
    labels = {results.size_key(r["size"]): r["label"] for r in result["sizes"]}
    for name in peer_order(result):
        runs = fresh.get(name) or []
        srcgrad = result["peers"][name]["family"] == "srcgrad"
        for k, r in enumerate(runs):
            tag = name if not srcgrad else f"{name}, {'empty' if k == 0 else 'warm'} cache"
            if "error" in r:
                rows.append([tag, "failed", "-", "-", "-", r["error"][:80]])
                continue
            mem = r.get("memory") or {}
            peak = common.fmt_bytes(mem.get("peak_extra_bytes")) if mem and "error" not in mem else "-"
            if mem.get("size") is not None and results.size_key(mem["size"]) != results.size_key(fresh_size):
                peak += f" (at {labels.get(results.size_key(mem['size']), mem['size'])})"
            rows.append([tag, common.fmt_time(r["first_call_total_s"]), common.fmt_time(r["process_wall_s"]),
                         common.fmt_time(r["to_first_result_s"]), peak,
                         common.fmt_bytes(mem.get("tape_bytes")) if mem.get("tape_bytes") is not None else ""])
    return rows


def tables(result: dict) -> list[dict]:
    """The eval's table and the workload's extra tables (``description``, ``columns``, ``table``)."""
    return ([result["eval"]] if result.get("eval") else []) + list(result.get("extra_tables") or [])


# --------------------------------------------------------------------------
# stdout
# --------------------------------------------------------------------------

def print_result(result: dict) -> None:
    """The run's tables on stdout: times, ratios, tapes, extra tables, fresh processes, failures."""
    order = peer_order(result)
    print()
    print(f"{result['title']} ({result['mode']}): median wall time per call, ±IQR as % of median")
    print(common.format_table(["size"] + order, [[rec["label"]] + [cell(rec, n) for n in order]
                                                 for rec in result["sizes"]]))
    if result.get("checks"):
        print("also checked (not timed) at " + "; ".join(r["label"] for r in result["checks"]))
    keys = ratio_columns(result)
    for rec in result["sizes"]:
        print("  " + rec["label"] + ": " + "  ".join(f"{k}={v}" for k, v in zip(keys, ratio_cells(result, rec, keys))
                                                      if v != "-"))
    if result["config"].get("tape_unit"):
        print(common.format_table(*tape_table(result)))
    for t in tables(result):
        print(t["description"].splitlines()[0] + (f" ({t['input']})" if t.get("input") else ""))
        print(common.format_table(t["columns"], t["table"]))
    fr = fresh_rows(result)
    if fr:
        print(common.format_table(["fresh process", "build+1st call", "process wall", "to 1st result",
                                   "peak extra RSS", "tape"], fr))
    for name in order:
        st = result["peers"][name]["status"]
        if st != "ok":
            print(f"  {name}: {st[:400]}")
    for h in result["hard_failures"]:
        print("CHECK FAILED:", h)


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------

def md_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, then an empty line."""
    return (["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
            + ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows] + [""])


def _peer_rows(result: dict) -> list[list[str]]:
    rows = []
    for n in peer_order(result):
        p = result["peers"][n]
        st = p["status"]
        extra = ""
        if st.startswith(("unavailable", "failed")):
            extra = f" **{st.split(':')[0]}**: {st.split(':', 1)[1].strip()[:300]}"
        if p.get("cap"):
            extra += f" (run up to {p['cap']['max_size']}: {p['cap']['reason']})"
        if p.get("note"):
            extra += f" {p['note']}"
        rows.append([f"`{n}`", f"{p['label']}.{extra}"])
    return rows


def _size_label(result: dict, size) -> str:
    return next((r["label"] for r in result["sizes"] if r["size"] == size), "?")


def markdown_section(result: dict, image: str | None) -> str:
    """The workload's section of docs/benchmarks.md: description, tables, plot, failures."""
    order = peer_order(result)
    cfg = result["config"]
    lines = [f"## {result['title']}", "", result["description"].strip(), ""]
    lines += md_table(["peer", "what it runs"], _peer_rows(result))
    lines += [f"Median wall time per call, ± IQR as % of the median ({result['mode']} run, "
              f"{cfg['repeats']} samples at most, {cfg['peer_seconds']:g} s of samples per peer; "
              f"\"extrap.\": the peer was predicted to need more than {cfg['call_limit_s']:g} s per call "
              "there; its time is extrapolated from the two largest sizes it ran, as a power of the work "
              "with an exponent between 1 and 3):", ""]
    lines += md_table(["size"] + [f"`{n}`" for n in order],
                      [[rec["label"]] + [cell(rec, n, md=True) for n in order] for rec in result["sizes"]])
    if result.get("checks"):
        lines += ["Also checked, not timed: " + "; ".join(r["label"] for r in result["checks"]) + ".", ""]
    keys = ratio_columns(result)
    if keys:
        lines += ["Ratios of median times (`srcgrad/x` < 1 and `x/srcgrad` > 1 mean srcgrad is faster; "
                  "`x/forward`: against the Numba forward; *italic*: from an extrapolated time):", ""]
        lines += md_table(["size"] + keys + ["srcgrad tape"],
                          [[rec["label"]] + ratio_cells(result, rec, keys, md=True) + [_tape_cell(rec)]
                           for rec in result["sizes"]])
    if cfg.get("tape_unit"):
        columns, rows = tape_table(result)
        lines += [f"srcgrad's tape (`tape_bytes`) per {cfg['tape_unit']}"
                  + (", beside what the hand-written adjoint stores:" if len(columns) == 5 else ":"), ""]
        lines += md_table(columns, rows)
    for t in tables(result):
        lines += [t["description"] + (f" Input: {t['input']}." if t.get("input") else ""), ""]
        lines += md_table(t["columns"], t["table"])
    lines += _fresh_lines(result)
    if image:
        lines += [f"![{result['title']}]({image})", ""]
    for h in result["hard_failures"]:
        lines += [f"**Check failed:** {h}", ""]
    lines.append(_footer(result))
    return "\n".join(lines)


def _tape_cell(rec: dict) -> str:
    tapes = rec.get("tape_bytes", {})
    text = common.fmt_bytes(tapes["srcgrad"]) if "srcgrad" in tapes else "-"
    return text + (f" (hand: {common.fmt_bytes(tapes['hand'])})" if "hand" in tapes else "")


def _fresh_lines(result: dict) -> list[str]:
    fr = fresh_rows(result)
    if not fr:
        return []
    fresh = result["fresh_process"]
    return [f"In a fresh process: build + first call at {_size_label(result, fresh.get('first_call_size'))} "
            "(transform, compile, one run), the whole process until that first result, and the extra peak "
            f"resident memory of one call at {_size_label(result, fresh.get('memory_size'))} after that "
            "warm-up:", ""] + md_table(["process", "build + first call", "to first result", "peak extra memory",
                                         "srcgrad tape"], [[r[0], r[1], r[3], r[4], r[5]] for r in fr])


def _footer(result: dict) -> str:
    m = result["machine"]
    git = m.get("git") or {}
    return (f"<sub>{result['mode']} run of `python -m bench --only {result['benchmark']}` at commit "
            f"{(git.get('commit') or '?')[:7]}{' (dirty tree)' if git.get('dirty') else ''}, "
            f"{m['date_utc']}, {result.get('total_wall_s', 0):.0f} s.</sub>")


# --------------------------------------------------------------------------
# the goals
# --------------------------------------------------------------------------

def _legacy_goal_rows(name: str, result: dict) -> list[dict]:
    """Goal rows of a result written by gmm, rnn and mlp before they ran on the runner (the tracked results
    until the next full run replaces them)."""
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
    """One row per (workload, srcgrad peer, size): srcgrad/forward, srcgrad/hand, srcgrad/jax (best JAX peer)
    and torch/autograd/tangent over srcgrad (loop versions; extrapolated ones marked)."""
    if "sizes" not in result:
        return _legacy_goal_rows(name, result)
    rows = []
    for s in results.srcgrad_peers(result):
        workload = name if s == "srcgrad" else f"{name} {s}"
        for rec in result["sizes"]:
            rows.append(_goal_row(result, rec, s, {"workload": workload, "kind": result["kind"],
                                                   "size": rec["label"]}))
    return rows


def _goal_row(result: dict, rec: dict, s: str, row: dict) -> dict:
    if "timing" not in rec["peers"].get(s, {}):
        row["srcgrad"] = rec["peers"].get(s, {}).get("status", "not run")
        return row
    g = result["goals"].get(rec["label"], {})
    row["srcgrad/forward"] = rec.get("ratios", {}).get(results.forward_ratio_key(result, s))
    if f"{s}/hand" in g:
        row["srcgrad/hand"] = g[f"{s}/hand"]
    jax = {k: v for k, v in g.items() if k.startswith(f"{s}/jax")}
    if jax:
        best = max(jax, key=jax.get)  # the largest srcgrad/jax: the fastest JAX peer
        row["srcgrad/jax"] = jax[best]
        row["jax_peer"] = best.split("/", 1)[1]
    for lib in results.SLOW_FAMILIES:
        if f"{lib}/{s}" in g:
            row[f"{lib}/srcgrad"] = g[f"{lib}/{s}"]
            row[f"{lib}_extrapolated"] = bool(g.get(f"{lib}/{s}_extrapolated"))
    return row


def _summary_cell(r: dict, key: str) -> str:
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


SUMMARY_KEYS = ("srcgrad/forward", "srcgrad/hand", "srcgrad/jax", "torch/srcgrad", "autograd/srcgrad",
                "tangent/srcgrad")


def summary_section(rows: list[dict], mode: str) -> str:
    lines = ["## Summary: the goals", ""]
    lines.append("Ratios of median times per call at every size of every workload (`a/b` > 1: `a` is "
                 "slower). `srcgrad/jax` is against the fastest JAX peer that ran (named when it is not "
                 "the loop version); *italic*: the other tool was too slow to run at that size and its "
                 "time is extrapolated. Goals: srcgrad within 1.5x of the hand-written adjoint on scalar "
                 "loops; faster than JAX `jit(grad)` on loop-shaped workloads; at least 100x faster than "
                 "PyTorch eager, autograd and tangent-ad on scalar loops.")
    lines.append("")
    table = []
    for r in rows:
        if isinstance(r.get("srcgrad"), str):
            table.append([r["workload"], r["kind"], r["size"], f"srcgrad {r['srcgrad'][:120]}", "", "", "", "", ""])
        else:
            table.append([r["workload"], r["kind"], r["size"]] + [_summary_cell(r, k) for k in SUMMARY_KEYS])
    lines += md_table(["workload", "kind", "size"] + list(SUMMARY_KEYS), table)
    lines.append(f"<sub>From the {mode} results in `bench/results/`; ✓/✗ mark the goals where they apply "
                 "(1.5x and 100x on `scalar_loop` workloads, JAX everywhere).</sub>")
    return "\n".join(lines)
