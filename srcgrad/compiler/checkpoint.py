"""Checkpointed loops: the reverse sweep of a long loop within a memory limit.

With ``tape_limit`` (gradfn), each top-level loop that the reverse sweep needs runs
checkpointed: the forward sweep runs the plain loop and stores the loop-carried state (a
checkpoint) at the iterations the schedule picks; the reverse sweep restores checkpoints,
runs forward from them, and reverses one unit of iterations at a time with the ordinary
taped body (runtime/checkpoint.py has the schedule and why it is optimal). Inner loops
keep their taped reverse inside the unit.

The generated function takes one more argument, ``_ckp`` (an int64 array): in, the bytes
the checkpoints may take and the iterations per unit; out, what the schedule did (see
``CKP_FIELDS``). The state of a loop is what its body reads before writing and writes:
scalars go to one float and one integer array per loop (a row per slot), arrays to a list
of copies. An array that the body only writes into is restored in place, so names that
alias it see the restored elements; an array the body rebinds gets a fresh copy.
"""

from __future__ import annotations

import ast

from numba import types as nbtypes

from ..errors import UnsupportedSyntaxError
from .core import clone, located, range_args, reads_before_assigned, store_of, walk_stmts, \
    with_line
from .tapegen import KINDS

# the fields of the _ckp array the generated function reads and writes
CKP_FIELDS = ("budget", "unit", "status", "need", "recomputed", "checkpoint_bytes",
              "unit_tape_bytes", "checkpoints", "loops", "iterations", "unit_floats",
              "unit_ints", "unit_bools", "unit_ref_bytes", "probe")
CKP_SIZE = 16
CK_TOO_SMALL = -2   # status: not one checkpoint fits in the budget

RUNTIME = {"ck_new", "ck_slots", "ck_begin", "ck_plan_next", "ck_push", "ck_online_next",
           "ck_full", "ck_thin", "ck_end", "ck_next", "ck_note_unit", "ck_copy_into",
           "ck_put", "ck_state_bytes", "ck_ref_bytes", "ck_report", "ck_online_due",
           "range_len", "tape_ref"}


def _parse(text: str, line: int | None) -> list[ast.stmt]:
    body = ast.parse(text).body
    for st in walk_stmts(body):
        with_line(st, line)
    return body


class Checkpointer:
    """Writes the checkpointed forward and reverse of top-level loops for a Reverse."""

    def __init__(self, rev) -> None:
        self.rev = rev
        self.sweep = rev.sweep
        self.param = self.sweep.namer.exact("_ckp")
        self.loops: dict[int, dict] = {}
        self.early: list[ast.If] = []   # run() fills their bodies with the early return
        self.used = False

    def applies(self, node: ast.stmt, loops: list[ast.stmt]) -> bool:
        return not loops and isinstance(node, (ast.For, ast.While)) \
            and self.rev.needs_rev(node) and id(node) not in self.sweep.fusable

    # the state -------------------------------------------------------------

    def _state(self, node: ast.stmt) -> list[tuple[str, str]]:
        """(name, kind) of the variables an iteration reads before writing and writes:
        kind 'f' float, 'i' integer or boolean, 'a' array restored anew, 'w' array
        restored in place."""
        exposed: list[str] = []
        start = {node.target.id} if isinstance(node, ast.For) else set()
        if isinstance(node, ast.While):
            reads_before_assigned([ast.Expr(node.test)], set(), exposed, stores_read=True)
        reads_before_assigned(node.body, start, exposed, stores_read=True)
        rebound, written = set(), set()
        for st in walk_stmts(node.body):
            if isinstance(st, ast.Assign):
                base = store_of(st)
                if base is not None:
                    written.add(base)
                else:
                    rebound |= {n.id for n in ast.walk(st.targets[0]) if isinstance(n, ast.Name)}
            elif isinstance(st, ast.For):
                rebound.add(st.target.id)
        state = []
        typed = self.sweep.typed
        for name in exposed:
            if name not in rebound and name not in written:
                continue
            typ = typed.types.get(name)
            if isinstance(typ, nbtypes.Array):
                state.append((name, "a" if name in rebound else "w"))
            elif isinstance(typ, (nbtypes.Boolean, nbtypes.Integer)):
                state.append((name, "i"))
            elif isinstance(typ, nbtypes.Float):
                state.append((name, "f"))
            else:
                raise self.sweep.cap.error(
                    UnsupportedSyntaxError, located(node),
                    f"tape_limit cannot checkpoint this loop: it carries {name!r} of type "
                    f"{typ} from one iteration to the next, and a checkpoint holds floats, "
                    "integers, booleans and arrays",
                    hint="carry floats or arrays across iterations, or call the gradient "
                         "without tape_limit")
        return state

    # code ------------------------------------------------------------------

    def _names(self, node: ast.stmt) -> dict:
        fresh = self.sweep.namer.fresh
        info = {k: fresh(f"_c{k}") for k in ("s", "x", "j", "w", "slot", "lo", "mid", "hi",
                                              "kk", "m", "n", "f", "i", "b")}
        info["state"] = self._state(node)
        info["arrays"] = {name: fresh("_ca") for name, kind in info["state"] if kind in "aw"}
        return info

    def _save(self, info: dict, slot: str) -> str:
        lines = []
        nf = ni = 0
        for name, kind in info["state"]:
            if kind == "f":
                lines.append(f"{info['f']}[{slot}, {nf}] = {name}")
                nf += 1
            elif kind == "i":
                lines.append(f"{info['i']}[{slot}, {ni}] = {name}")
                ni += 1
            else:
                lines.append(f"ck_put({info['arrays'][name]}, {slot}, {name})")
        return "\n".join(lines) or "pass"

    def _restore(self, info: dict, slot: str) -> list[ast.stmt]:
        lines = []
        nf = ni = 0
        typed = self.sweep.typed
        for name, kind in info["state"]:
            if kind == "f":
                typ = typed.types[name]
                value = f"{info['f']}[{slot}, {nf}]"
                lines.append(f"{name} = np.float32({value})" if typ.bitwidth == 32
                             else f"{name} = {value}")
                nf += 1
            elif kind == "i":
                typ = typed.types[name]
                value = f"{info['i']}[{slot}, {ni}]"
                if isinstance(typ, nbtypes.Boolean):
                    value = f"{value} != 0"
                elif typ != nbtypes.int64:
                    value = f"np.{typ}({value})"
                lines.append(f"{name} = {value}")
                ni += 1
            elif kind == "w":
                lines.append(f"ck_copy_into({name}, {info['arrays'][name]}[{slot}])")
            else:
                lines.append(f"{name} = np.copy({info['arrays'][name]}[{slot}])")
        return lines

    def _moves(self, info: dict) -> str:
        """Online thinning: slot m takes slot 2m."""
        lines = []
        if any(k == "f" for _, k in info["state"]):
            lines.append(f"{info['f']}[{info['m']}, :] = {info['f']}[2 * {info['m']}, :]")
        if any(k == "i" for _, k in info["state"]):
            lines.append(f"{info['i']}[{info['m']}, :] = {info['i']}[2 * {info['m']}, :]")
        for name, ca in info["arrays"].items():
            lines.append(f"{ca}[{info['m']}] = {ca}[2 * {info['m']}]")
        return "\n".join(lines) or "pass"

    def forward(self, node: ast.stmt, taped_body: list[ast.stmt]) -> list[ast.stmt]:
        """The forward sweep of a checkpointed loop: the plain loop, storing checkpoints."""
        self.used = True
        line = node.srcline
        info = self._names(node)
        info["taped"] = taped_body
        self.loops[id(node)] = info
        nf = sum(k == "f" for _, k in info["state"])
        ni = sum(k == "i" for _, k in info["state"])
        p = self.param
        out: list[ast.stmt] = []
        known = isinstance(node, ast.For) and not self.rev.has_break(node)
        if isinstance(node, ast.For):
            start, stop, step = range_args(node)
            for key, expr in (("start", start), ("step", step)):
                if isinstance(expr, ast.Constant):
                    info[key] = ast.unparse(expr)
                else:
                    info[key] = self.sweep.namer.fresh(f"_c{key}")
                    out.append(with_line(ast.Assign([ast.Name(info[key], ast.Store())],
                                                    clone(expr)), line))
            count = f"range_len({info['start']}, {ast.unparse(stop)}, {info['step']})" \
                if known else "-1"
        else:
            count = "-1"
        arrays = " + ".join(f"ck_state_bytes({n})" for n in info["arrays"]) or "0"
        s, n = info["s"], info["n"]
        text = f"""
{n} = {count}
{info['b']} = {8 * (nf + ni)} + {arrays}
{info['slot']} = ck_slots({p}[0], {info['b']}, {n} if {n} < 0 else ({n} + {p}[1] - 1) // {p}[1])
if {info['slot']} < 1:
    {p}[2] = {CK_TOO_SMALL}
    {p}[3] = max({p}[3], {info['b']} + 8)
    {info['slot']} = 1
{s} = ck_new({info['slot']})
{info['f']} = np.empty(({info['slot'] if nf else 1}, {max(nf, 1)}), np.float64)
{info['i']} = np.empty(({info['slot'] if ni else 1}, {max(ni, 1)}), np.int64)
ck_begin({s}, {n}, {p}[1], {info['b']})
"""
        for name, ca in info["arrays"].items():
            text += f"{ca} = tape_ref({name})\n"
        text += self._save(info, "0") + "\n"
        out += _parse(text, line)
        j, x = info["j"], info["x"]
        plain = [clone(st) for st in node.body]
        if known:
            store = _parse(f"""
if {j} == {x}:
    {info['slot']} = ck_push({s}, {j})
    {self._save(info, info['slot']).replace(chr(10), chr(10) + '    ')}
    {x} = ck_plan_next({s})
""", line)
            loop_var = node.target.id
            head = _parse(f"{loop_var} = {info['start']} + {j} * {info['step']}", line)
            loop = with_line(ast.For(ast.Name(j, ast.Store()),
                                     ast.Call(ast.Name("range", ast.Load()),
                                              [ast.Name(n, ast.Load())], []),
                                     store + head + plain, []), line)
            out += _parse(f"{x} = ck_plan_next({s})", line) + [loop]
            out += _parse(f"ck_end({s}, {n})", line)
        else:
            store = _parse(f"""
if {j} == {x}:
    if ck_full({s}):
        {info['kk']} = ck_thin({s})
        for {info['m']} in range(1, {info['kk']}):
            {self._moves(info).replace(chr(10), chr(10) + '            ')}
    if ck_online_due({s}, {j}):
        {info['slot']} = ck_push({s}, {j})
        {self._save(info, info['slot']).replace(chr(10), chr(10) + '        ')}
    {x} = ck_online_next({s})
{j} = {j} + 1
""", line)
            if isinstance(node, ast.For):
                loop = with_line(ast.For(clone(node.target), clone(node.iter), store + plain,
                                         []), line)
            else:
                loop = with_line(ast.While(clone(node.test), store + plain, []), line)
            out += _parse(f"{x} = ck_online_next({s})\n{j} = 0", line) + [loop]
            out += _parse(f"ck_end({s}, {j})", line)
        return out

    def reverse(self, node: ast.stmt, rev_body: list[ast.stmt], hoisted: list[ast.stmt]
                ) -> list[ast.stmt]:
        """The reverse sweep of a checkpointed loop: the schedule's actions, in a loop."""
        info = self.loops[id(node)]
        line = node.srcline
        s, j = info["s"], info["j"]
        w, slot, lo, mid, hi = (info[k] for k in ("w", "slot", "lo", "mid", "hi"))
        tape = self.sweep.tape
        head: list[ast.stmt] = []
        if isinstance(node, ast.For) and not self.rev.has_break(node):
            var = node.target.id
            head_text = f"{var} = {info['start']} + {j} * {info['step']}"
        elif isinstance(node, ast.For):
            var = node.target.id
            start, _, step = range_args(node)
            head_text = f"{var} = {ast.unparse(start)} + {j} * {ast.unparse(step)}"
            if not (isinstance(start, ast.Constant) and isinstance(step, ast.Constant)):
                # a loop that may break: its bounds are read again, so they must not change
                for n in ast.walk(ast.Tuple([start, step], ast.Load())):
                    if isinstance(n, ast.Name) and any(
                            isinstance(t, ast.Name) and t.id == n.id
                            for st in walk_stmts(node.body) if isinstance(st, ast.Assign)
                            for t in st.targets):
                        raise self.sweep.cap.error(
                            UnsupportedSyntaxError, located(node),
                            "tape_limit cannot checkpoint this loop: it may break, and its "
                            f"body changes {n.id!r}, which its range reads",
                            hint="compute the range's bounds into names the loop "
                                 "does not assign")
        else:
            head_text = ""
        head = _parse(head_text, line) if head_text else []
        plain = [clone(st) for st in node.body]
        taped = info["taped"]
        entry = {kind: self.sweep.namer.fresh(f"_ce{kind}") for kind, _ in KINDS
                 if kind in tape.kinds}
        deltas = ", ".join(f"{tape.names[k][1]} - {entry[k]}" if k in entry else "0"
                           for k, _ in KINDS)
        refs = " + ".join(f"ck_ref_bytes({r})" for r in tape.refs.values()) or "0"
        out = list(hoisted)
        out += _parse(f"""
while True:
    {w}, {slot}, {lo}, {mid}, {hi} = ck_next({s})
    if {w} == 0:
        break
""", line)
        loop = out[-1]
        loop.body += _parse("\n".join(self._restore(info, slot)) or "pass", line)
        loop.body.append(with_line(ast.For(
            ast.Name(j, ast.Store()),
            ast.Call(ast.Name("range", ast.Load()), [ast.Name(lo, ast.Load()),
                                                     ast.Name(mid, ast.Load())], []),
            [clone(st) for st in head] + plain, []), line))
        save = _parse(f"if {w} == 1:\n    " + self._save(info, hi).replace("\n", "\n    "),
                      line)[0]
        unit: list[ast.stmt] = []
        for kind, name in entry.items():
            unit += _parse(f"{name} = {tape.names[kind][1]}", line)
        unit.append(with_line(ast.For(
            ast.Name(j, ast.Store()),
            ast.Call(ast.Name("range", ast.Load()), [ast.Name(mid, ast.Load()),
                                                     ast.Name(hi, ast.Load())], []),
            [clone(st) for st in head] + taped, []), line))
        unit += _parse(f"ck_note_unit({self.param}, {s}, {deltas}, {refs})", line)
        # back to the caller when a tape overflowed, or when it only asked for the size
        # of one unit's tape (_ckp[14], a probe)
        probe = ast.parse(f"{self.param}[14] != 0", mode="eval").body
        overflowed = tape.overflowed()
        test = probe if overflowed is None else ast.BoolOp(ast.Or(), [overflowed, probe])
        early = with_line(ast.If(test, [], []), line)
        self.early.append(early)
        unit.append(early)
        back = _parse(f"{j} = {hi} - 1\nwhile {j} >= {mid}:\n    pass", line)
        back[1].body = [clone(st) for st in head] + rev_body + \
            _parse(f"{j} = {j} - 1", line)
        unit += back
        save.orelse = unit
        loop.body.append(save)
        out += _parse(f"ck_report({self.param}, {s})", line)
        return out

