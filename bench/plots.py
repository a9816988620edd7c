"""The plot of a run (matplotlib): log-log times over the sizes beside the ratios to srcgrad, or bars for a
workload with a single size."""

from __future__ import annotations

import re

from bench import common, report, results

MARKERS = "osD^v<>phX*"


def plot_result(result: dict, path: str) -> None:
    """Draw the result into ``path``: :func:`_loglog` over the sizes, :func:`_bars` for a single size."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = sorted(result["sizes"], key=lambda r: r["work"])  # a grid's order need not follow its work
    if not recs:
        return
    draw = _bars if len(recs) == 1 else _loglog
    fig = draw(plt, result, recs)
    m = result["machine"]
    fig.text(0.5, 0.005, f"{m['cpu_model']}, {m['cpu_count']} cores; numba {m['versions'].get('numba')}; "
             f"{result['mode']} run, {result['config']['repeats']} repeats; {m['date_utc']}",
             ha="center", va="bottom", fontsize=7, alpha=0.8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _loglog(plt, result: dict, recs: list[dict]):
    """Median times over the work (extrapolated points hollow, dotted), and each peer's time over srcgrad's."""
    xs = [r["work"] for r in recs]
    order = report.peer_order(result)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12.5, 4.8))
    for i, name in enumerate(order):
        pts = [(x, results.peer_time(r, name)) for x, r in zip(xs, recs)]
        meas = [(x, t) for x, (t, ex) in pts if t is not None and not ex]
        extra = [(x, t) for x, (t, ex) in pts if t is not None and ex]
        color, marker = plt.cm.tab10(i % 10), MARKERS[i % len(MARKERS)]
        if meas:
            ax.plot([p[0] for p in meas], [p[1] for p in meas], marker=marker, color=color, label=name)
        if extra:
            last = meas[-1:]
            ax.plot([p[0] for p in last + extra], [p[1] for p in last + extra], linestyle=":", color=color,
                    marker=marker, markerfacecolor="none", label=None if meas else f"{name} (extrapolated)")
    _axes(ax, result, "wall time per call [s] (median)", f"{result['title']}: value and gradient")
    for i, name in enumerate(order):
        vals = []
        for x, r in zip(xs, recs):
            s, _ = results.peer_time(r, "srcgrad")
            t, ex = results.peer_time(r, name)
            if s is not None and t is not None and name != "srcgrad":
                vals.append((x, t / s, ex))
        if vals:
            color = plt.cm.tab10(i % 10)
            ax2.plot([v[0] for v in vals], [v[1] for v in vals], marker=MARKERS[i % len(MARKERS)], color=color,
                     linestyle="--", label=name)
            ex = [v for v in vals if v[2]]
            if ex:
                ax2.plot([v[0] for v in ex], [v[1] for v in ex], linestyle="none", marker="o", markersize=10,
                         markerfacecolor="none", color=color)
    ax2.axhline(1.0, color="k", lw=0.8)
    _axes(ax2, result, "peer time / srcgrad time (>1: srcgrad faster)", "relative to srcgrad (circled: extrapolated)")
    return fig


def _axes(ax, result: dict, ylabel: str, title: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(result["config"].get("x_label", "size"))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def _bars(plt, result: dict, recs: list[dict]):
    """One size: each peer's median time (IQR bars; failed peers marked, log scale when they spread
    widely), and the ratios of the tables."""
    rec = recs[0]
    names = [n for n in report.peer_order(result) if "timing" in rec["peers"].get(n, {})
             or rec["peers"].get(n, {}).get("status", "").startswith("failed")]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    timings = {n: rec["peers"][n]["timing"] for n in names if "timing" in rec["peers"][n]}
    meds = [t["median"] * 1e6 for t in timings.values()] or [1.0]
    top = max([t["q3"] * 1e6 for t in timings.values()] or [1.0])
    log_scale = max(meds) > 20 * min(meds)  # one slow peer would flatten the others on a linear axis
    bottom = min(meds) / 3 if log_scale else 0.0

    def above(y, frac):
        return y * (1 + 4 * frac) if log_scale else y + frac * top

    for i, n in enumerate(names):
        if n not in timings:
            exc = re.search(r"\b(\w+(?:Error|Exception))\b", rec["peers"][n]["status"])
            ax.text(i, above(bottom, 0.02) if log_scale else 0.02 * top, "failed" + (f" ({exc.group(1)})" if exc
                                                                                      else ""),
                    ha="center", va="bottom", rotation=90, fontsize=8, color="#a50f15")
            continue
        s = timings[n]
        med = s["median"] * 1e6
        ax.bar(i, med - bottom, bottom=bottom, color=plt.cm.tab10(i % 10),
               yerr=[[med - s["q1"] * 1e6], [s["q3"] * 1e6 - med]], capsize=4)
        ax.text(i, above(s["q3"] * 1e6, 0.01), common.fmt_time(s["median"]), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=15, fontsize=8)
    if log_scale:
        ax.set_yscale("log")
        ax.set_ylim(bottom, top * 2)
    else:
        ax.set_ylim(0, top * 1.12)
    ax.set_ylabel("wall time per call [us] (median, IQR bars)" + (", log scale" if log_scale else ""))
    ax.set_title(f"{result['title']}, {rec['label']}", fontsize=10)
    ax.grid(True, axis="y", which="both" if log_scale else "major", alpha=0.3)
    _ratio_bars(ax2, result, rec)
    return fig


def _ratio_bars(ax, result: dict, rec: dict) -> None:
    values = {k: report.ratio_value(result, rec, k) for k in report.ratio_columns(result)}
    rnames = [k for k, v in values.items() if v is not None]
    vals = [values[k] for k in rnames]
    rlog = bool(vals) and max(vals) > 30 * max(min(vals), 1e-300)
    ax.barh(range(len(rnames)), vals, color=["#31a354" if r.startswith("srcgrad") else "0.55" for r in rnames])
    for j, v in enumerate(vals):
        ax.text(v, j, f" {v:.2f}", va="center", fontsize=8)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(range(len(rnames)))
    ax.set_yticklabels(rnames, fontsize=8)
    ax.invert_yaxis()
    if rlog:
        ax.set_xscale("log")
        ax.set_xlim(min(vals + [1.0]) / 2, max(vals) * 3)
    else:
        ax.set_xlim(0, max(vals + [1.0]) * 1.18)
    ax.set_xlabel("ratio of median times" + (", log scale" if rlog else ""))
    ax.set_title("time ratios", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
