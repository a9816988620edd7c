"""The benchmark suite still runs: ``python -m bench --tiny`` over every workload (slow tier).

Tiny mode is the smallest size of each workload, a few timing samples and no
fresh-process measurements; peers whose library is not installed are reported
as unavailable.  Nothing here asserts a time: the test checks that every
workload ran, that the checks passed (srcgrad included), that the results and
the regenerated Markdown sections are there, and that every peer has a status.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    docs = out / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nText that stays.\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "bench", "--tiny", "--out-dir", str(out), "--docs", str(docs)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=3000)
    return proc, out, docs


def test_every_workload_ran(suite_run):
    from bench.__main__ import NAMES
    proc, out, _ = suite_run
    assert proc.returncode == 0, proc.stderr[-6000:]
    suite = json.loads((out / "suite_tiny.json").read_text())
    assert set(suite["workloads"]) == set(NAMES)
    assert all(r["status"] == "ok" for r in suite["workloads"].values()), suite["workloads"]
    for name in NAMES:
        assert (out / f"{name}_tiny.json").exists(), name


def test_peer_statuses_and_checks(suite_run):
    from bench.__main__ import SUITE
    from bench.gradbench import PENDING
    _, out, _ = suite_run
    for name, _module, _extra, kind in SUITE:
        result = json.loads((out / f"{name}_tiny.json").read_text())
        if kind != "runner":
            status = result["srcgrad_status"]
            statuses = status.values() if isinstance(status, dict) else [status]
            assert all(s == "ok" for s in statuses), (name, status)
            continue
        assert result["hard_failures"] == [], (name, result["hard_failures"])
        peers = result["peers"]
        # particle and saddle while srcgrad's GradBench tool lists them as pending (nested AD missing):
        # srcgrad says why it cannot run, the other peers run and agree
        srcgrad_ran = not (name in PENDING and peers["srcgrad"]["status"].startswith("unavailable: cannot run"))
        assert not srcgrad_ran or peers["srcgrad"]["status"] == "ok", (name, peers["srcgrad"]["status"])
        assert peers["numba_fwd"]["status"] == "ok"
        for peer, info in peers.items():
            assert info["status"] == "ok" or info["status"].startswith(("unavailable: ", "failed: ")), (name, peer)
        rec = result["sizes"][0]
        assert "timing" in rec["peers"]["numba_fwd"]
        assert rec["reference"] is not None
        if srcgrad_ran:
            assert "timing" in rec["peers"]["srcgrad"]
            assert "srcgrad_vs_fd4" in rec["max_err"]


def test_nested_evals_agree(suite_run):
    """particle and saddle also solve GradBench's eval (an argmin over the gradient) with every
    checked peer: the outputs agree with each other and pass GradBench's own check."""
    from bench.gradbench import PENDING
    _, out, _ = suite_run
    for name in ("particle", "saddle"):
        ev = json.loads((out / f"{name}_tiny.json").read_text())["eval"]
        assert ev["failures"] == [], (name, ev["failures"])
        solved = {peer: row for peer, row in ev["rows"].items() if row["status"] == "ok"}
        # JAX is an optional peer (the bench extra): required only where it is installed
        wanted = {"hand"} | ({"jax"} if importlib.util.find_spec("jax") else set())
        assert wanted <= set(solved), (name, ev["rows"])
        if name not in PENDING:
            assert "srcgrad" in solved, (name, ev["rows"].get("srcgrad"))
        assert all(row["gradbench_ok"] for row in solved.values())


def test_docs_sections_regenerated(suite_run):
    from bench import common
    from bench.__main__ import NAMES
    _, _, docs = suite_run
    text = docs.read_text()
    assert "Text that stays." in text
    for name in NAMES + ["summary"]:
        begin, end = common.section_markers(name)
        assert text.count(begin) == 1 and text.count(end) == 1, name
        assert text.index(begin) < text.index(end)


def test_fresh_process_measurements(tmp_path):
    """First call with an empty and a warm srcgrad cache, and peak memory, in fresh processes."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "bench.d2l", "--tiny", "--subprocess", "--only-peers", "hand,srcgrad",
                           "--out-dir", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads((tmp_path / "d2l_tiny.json").read_text())
    fresh = result["fresh_process"]["peers"]
    assert set(fresh) == {"numba_fwd", "srcgrad", "hand"}
    assert len(fresh["srcgrad"]) == 2  # empty cache, then the same cache warm
    for runs in fresh.values():
        for run in runs:
            assert "error" not in run, run
            assert run["first_call_total_s"] > 0 and run["process_wall_s"] > 0
            assert "peak_extra_bytes" in run["memory"] or "error" in run["memory"]


def test_kmeans_checks_catch_a_wrong_hessian_diagonal(tmp_path):
    """The runner checks every peer's extra outputs (kmeans: the Hessian diagonal and the Newton
    direction) against the workload's closed forms and the reference: a peer whose diagonal is off
    by one count fails and is not timed, the others pass."""
    import dataclasses

    import numpy as np

    from bench import kmeans, runner

    def off_by_one(points, centroids):
        v, g, h, _ = kmeans.kmeans_hand(points, centroids)
        h = h.copy()
        h[0, :] += 2.0
        return v, g, h, g / h

    bad = runner.Peer("bad", "hand adjoint with a wrong diagonal", "hand", make=lambda: off_by_one,
                      result=kmeans._four)
    keep = [p for p in kmeans.PEERS if p.name in ("hand", "srcgrad_argmin")]
    w = dataclasses.replace(kmeans.WORKLOAD, peers=keep + [bad])
    res = runner.run_workload(w, "tiny", out_dir=tmp_path, plot=False, skip_peers=["srcgrad"])
    assert res["hard_failures"] == []
    peers = res["peers"]
    assert peers["hand"]["status"] == "ok" and peers["srcgrad_argmin"]["status"] == "ok"
    assert peers["bad"]["status"].startswith("failed: wrong answer") and "Hessian diagonal" in peers["bad"]["status"]
    rec = res["sizes"][0]
    assert "timing" not in rec["peers"]["bad"] and rec["reference"] == "hand"
    assert rec["max_err"]["srcgrad_argmin_own_check"] < 1e-9
    # the closed forms agree with a direct computation
    P, C = kmeans.kmeans_args((3, 50, 2))
    _, hdiag, step = kmeans.closed_form(P, C)
    owner = ((P[:, None, :] - C[None]) ** 2).sum(-1).argmin(1)
    assert np.array_equal(hdiag[:, 0], 2.0 * np.bincount(owner, minlength=3))
    assert np.allclose(C - step, [P[owner == j].mean(0) for j in range(3)], rtol=1e-13, atol=0)


def test_first_call_command_and_tables(tmp_path):
    """``python -m bench.first_call`` (fresh processes, minutes) is not run here: its --help, and its tables and
    docs section built from made-up process results."""
    from bench import first_call

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "bench.first_call", "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--quick" in proc.stdout, proc.stderr[-2000:]

    def first(after, grad_sum=1.5):
        return {"import_s": 1.0, "after_import_s": after, "to_first_s": 1.0 + after, "process_s": 1.5 + after,
                "steady_s": 1e-5, "checksum": grad_sum, "load_1min_at_start": 0.5, "load_1min_at_end": 0.6}

    calls = {"srcgrad_grad": {"median_s": 9e-6}, "numba_forward": {"median_s": 1e-6},
             "trivial_njit": {"median_s": 5e-7}}
    runs = {"lstsq": {"srcgrad_cold": [first(12.0), first(14.0)], "srcgrad_warm": [first(2.0), first(2.2)],
                      "numba_cold": [first(3.0, 70.0)], "numba_warm": [first(0.8, 70.0)],
                      "jax": [first(0.3), {"error": "rc=1: boom", "process_s": 1.0}],
                      "overhead": [{"tiny": calls, "full": calls,
                                    "descent": {"grad_step_s": 2e-5, "forward_s": 1.5e-6, "trivial_s": 7e-7,
                                                "steps": 1000, "rate": 0.005, "loss_start": 70.0,
                                                "loss_end": 0.3}}]}}
    summary = first_call.summarize(runs)
    assert summary["lstsq"]["srcgrad_cold"]["after_import_s"] == 13.0
    assert summary["lstsq"]["jax"]["failed"] == 1 and summary["lstsq"]["agreement"]["max_rel_diff"] == 0.0
    result = {"summary": summary, "repeat": 2, "load_1min_range": [0.5, 0.6], "total_wall_s": 60.0,
              "srcgrad": {"label": "here", "commit": "0123456789", "srcgrad_dirty": False},
              "machine": {"cpu_count": 2, "date_utc": "today"}}
    text = first_call.markdown_section(result, before=result)
    assert "| lstsq | 1 s | 13 s | 2.1 s | 3 s | 800 ms | 1 s | 300 ms |" in text
    assert "1000 descent steps" in text and "**lstsq, jax failed**" in text and "Before and now" in text
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nText.\n\n## Quick runs\n\nMore text.\n")
    first_call.update_docs(docs, text)
    first_call.update_docs(docs, text)
    got = docs.read_text()
    begin, end = first_call.common.section_markers("first_call")
    assert got.count(begin) == 1 and got.index(begin) < got.index("## Quick runs") and got.endswith("More text.\n")
