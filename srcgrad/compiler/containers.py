"""Tuples, lists and dicts of floats and arrays (JAX's pytrees), as plain variables.

srcgrad's core language has floats, ints, booleans and arrays. A container in the
user's code is taken apart before anything else sees it:

* an argument that is a tuple, list or dict (nested any way) is described by a
  :class:`Container`; the generated function takes one parameter per leaf
  (``params["W"]`` becomes the parameter ``params_W``), the face flattens the argument
  into them and builds the gradient back into the argument's structure;
* :func:`scalarize` rewrites a function body so that a variable bound to a container
  (``x = (a, b)``, ``p = {"w": w, "b": 1.0}``, ``p = dict(w=w)``) becomes one variable
  per leaf, a read of it the literal of those variables, and ``lit[k]`` with a constant
  ``k`` (``p["w"]``, ``x[0]``, ``x[1:]``) the element itself. ``len``, ``in``, ``.keys()``,
  ``.values()``, ``.items()``, ``.get()``, ``tuple()``, ``list()``, ``dict()``, ``sum``,
  ``min`` and ``max`` of a container are resolved the same way, a ``for`` loop over one
  is unrolled, and ``lit[i]`` with an index known only at run time reads the array of
  the elements (``np.array(lit)[i]``).

The structure of every container is therefore known when the function is generated,
as in JAX, where a pytree's structure is static. What cannot be resolved (a key known
only at run time, a container rebound to another structure) is refused at its line.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass

from numba.core import types as nbtypes

from ..errors import UnsupportedSyntaxError
from .core import const, load

KINDS = {tuple: "tuple", list: "list", dict: "dict"}
LITERALS = (ast.Tuple, ast.List, ast.Dict)


@dataclass(frozen=True)
class Container:
    """The structure of a container argument: its kind ("tuple", "list", "dict"), its
    keys (positions, or a dict's keys in order) and its items (a Container or the Numba
    type of a leaf)."""

    kind: str
    keys: tuple
    items: tuple

    def leaves(self, prefix: tuple = ()) -> list[tuple[tuple, object]]:
        """(path, Numba type) of every leaf, depth first."""
        out: list[tuple[tuple, object]] = []
        for key, item in zip(self.keys, self.items):
            if isinstance(item, Container):
                out += item.leaves(prefix + (key,))
            else:
                out.append((prefix + (key,), item))
        return out

    def __str__(self) -> str:
        inner = ", ".join(f"{k!r}: {v}" if self.kind == "dict" else str(v)
                          for k, v in zip(self.keys, self.items))
        return {"tuple": f"tuple({inner})", "list": f"list[{inner}]",
                "dict": f"dict({{{inner}}})"}[self.kind]


def is_float_type(typ) -> bool:
    """A float, or an array of floats: what srcgrad differentiates with respect to."""
    if isinstance(typ, nbtypes.Array):
        typ = typ.dtype
    return isinstance(typ, nbtypes.Float)


def is_container(value) -> bool:
    """Does the face take `value` apart? Dicts, lists, and tuples that hold something
    other than ints and booleans (a tuple of ints, a shape, stays a Numba tuple)."""
    if type(value) is dict or type(value) is list:
        return True
    if type(value) is tuple:
        return any(type(v) not in (int, bool) for v in value)
    return False


def structure(value, leaf_type) -> Container:
    """The Container of a container argument; `leaf_type(v)` types a leaf. Raises
    TypeError for a dict key that is not a string."""
    kind = KINDS[type(value)]
    if kind == "dict":
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"a dict argument's keys must be strings; got {key!r}")
        keys = tuple(value)
        items = tuple(value.values())
    else:
        keys = tuple(range(len(value)))
        items = tuple(value)
    return Container(kind, keys, tuple(
        structure(v, leaf_type) if type(v) in KINDS else leaf_type(v) for v in items))


def flatten(value) -> list:
    """The leaves of a container value, in the order of Container.leaves."""
    if type(value) in KINDS:
        items = value.values() if type(value) is dict else value
        return [leaf for v in items for leaf in flatten(v)]
    return [value]


def rebuild(struct: Container, leaves) -> object:
    """A value of the structure `struct` with the leaves `leaves` (an iterator)."""
    items = [rebuild(item, leaves) if isinstance(item, Container) else next(leaves)
             for item in struct.items]
    if struct.kind == "dict":
        return dict(zip(struct.keys, items))
    return tuple(items) if struct.kind == "tuple" else items


def flatten_like(struct: Container, value, what: str) -> list:
    """The leaves of `value`, which must have the structure `struct` (a tangent, a
    cotangent: JAX's rule that it matches its primal's tree); a dict's in `struct`'s key
    order, whatever order `value` lists them in. Raises TypeError naming `what`."""
    kind = KINDS.get(type(value))
    if kind != struct.kind or len(value) != len(struct.keys) or (
            kind == "dict" and set(value) != set(struct.keys)):
        raise TypeError(f"{what} must have the structure {describe(struct)}, like its "
                        f"primal; got {_describe_value(value)}")
    out: list = []
    for key, item in zip(struct.keys, struct.items):
        v = value[key]
        out += flatten_like(item, v, f"{what}[{key!r}]") if isinstance(item, Container) \
            else [v]
    return out


def describe(struct: Container) -> str:
    """`struct` as a user writes such a value: ``{'W': ., 'b': .}``, ``(., .)``."""
    inner = [describe(i) if isinstance(i, Container) else "." for i in struct.items]
    if struct.kind == "dict":
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(struct.keys, inner)) + "}"
    if struct.kind == "list":
        return "[" + ", ".join(inner) + "]"
    return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"


def _describe_value(value) -> str:
    if type(value) in KINDS:
        return describe(structure(value, lambda v: None))
    return f"a {type(value).__name__}"


class Arguments:
    """One call's arguments taken apart as the generated function takes them.

    ``flat``: every argument, containers replaced by their leaves. ``slots``: the
    positions in ``flat`` of the differentiated leaves (the float leaves of the `wrt`
    arguments, in wrt order), whose tangents the tangent function takes after ``flat``
    and whose gradients an adjoint returns, in that order. ``regroup`` builds one value
    per slot back into one per wrt argument; ``split`` takes one per wrt argument (a
    tangent, a direction) apart into one per slot."""

    def __init__(self, args: tuple, types: tuple, wrt) -> None:
        self.args, self.types, self.wrt = tuple(args), tuple(types), tuple(wrt)
        self.flat: list = []
        starts: list[int] = []
        self.leaf_types: list[list] = []
        for a, t in zip(args, types):
            starts.append(len(self.flat))
            if isinstance(t, Container):
                self.flat += flatten_like(t, a, "an argument")
                self.leaf_types.append([lt for _, lt in t.leaves()])
            else:
                self.flat.append(a)
                self.leaf_types.append([t])
        self.flat = tuple(self.flat)
        self.slots: list[int] = []
        self.owner: list[int] = []      # the wrt argument of each slot
        for i in self.wrt:
            for j, lt in enumerate(self.leaf_types[i]):
                if is_float_type(lt) or not isinstance(self.types[i], Container):
                    self.slots.append(starts[i] + j)
                    self.owner.append(i)

    @property
    def has_containers(self) -> bool:
        return any(isinstance(t, Container) for t in self.types)

    def regroup(self, values, fill=None) -> list:
        """One value per slot -> one per wrt argument: a container argument's has its
        structure, with `fill` for its leaves that are not differentiated."""
        it = iter(values)
        out = []
        for i in self.wrt:
            t = self.types[i]
            if not isinstance(t, Container):
                out.append(next(it))
                continue
            out.append(rebuild(t, iter([next(it) if is_float_type(lt) else fill
                                        for lt in self.leaf_types[i]])))
        return out

    def split(self, values, what: str) -> list:
        """One value per wrt argument -> one per slot (a container argument's value must
        have its structure; its leaves that are not differentiated are dropped)."""
        out = []
        for i, v in zip(self.wrt, values):
            t = self.types[i]
            if not isinstance(t, Container):
                out.append(v)
                continue
            leaves = flatten_like(t, v, what)
            out += [leaf for leaf, lt in zip(leaves, self.leaf_types[i]) if is_float_type(lt)]
        return out


def leaf_name(param: str, path: tuple) -> str:
    """The generated parameter of one leaf: ``params_W``, ``layers_0_b``."""
    parts = [re.sub(r"\W", "_", str(p)) for p in path]
    return "_".join([param, *parts])


def literal_of(struct: Container, names) -> ast.expr:
    """The literal of `struct` whose leaves are the names `names` (an iterator)."""
    elts = [literal_of(item, names) if isinstance(item, Container) else load(next(names))
            for item in struct.items]
    if struct.kind == "dict":
        return ast.Dict([const(k) for k in struct.keys], elts)
    return ast.Tuple(elts, ast.Load()) if struct.kind == "tuple" else ast.List(elts, ast.Load())


# ----------------------------------------------------------------- literals


def is_literal(node) -> bool:
    return isinstance(node, LITERALS)


def _items(lit: ast.expr) -> list[tuple[object, ast.expr]]:
    if isinstance(lit, ast.Dict):
        return [(k.value, v) for k, v in zip(lit.keys, lit.values)]
    return list(enumerate(lit.elts))


def _make(kind: type, keys: list, values: list[ast.expr]) -> ast.expr:
    if kind is ast.Dict:
        return ast.Dict([const(k) for k in keys], values)
    return kind(values, ast.Load())


def skeleton(lit: ast.expr):
    """A literal's structure without its leaves (to compare two bindings)."""
    if not is_literal(lit):
        return None
    return (type(lit).__name__, tuple((k, skeleton(v)) for k, v in _items(lit)))


def _nested_literal(node) -> bool:
    """A list or dict literal, or a tuple literal with one among its items: what a
    flat tuple of results cannot stand for."""
    return isinstance(node, (ast.List, ast.Dict)) or (
        isinstance(node, ast.Tuple) and any(is_literal(e) for e in node.elts))


def output_structure(lit: ast.expr) -> Container:
    """The Container of a returned literal, its leaves None (their types are not known
    yet): how the face builds the function's value and reads a cotangent."""
    items = _items(lit)
    return Container(KINDS[{ast.Tuple: tuple, ast.List: list, ast.Dict: dict}[type(lit)]],
                     tuple(k for k, _ in items),
                     tuple(output_structure(v) if is_literal(v) else None for _, v in items))


def leaves_of(lit: ast.expr) -> list[ast.expr]:
    out: list[ast.expr] = []
    for _, v in _items(lit):
        out += leaves_of(v) if is_literal(v) else [v]
    return out


def _replace_leaves(lit: ast.expr, new) -> ast.expr:
    items = _items(lit)
    return _make(type(lit), [k for k, _ in items],
                 [_replace_leaves(v, new) if is_literal(v) else next(new) for _, v in items])


# ----------------------------------------------------------------- the pass


class Scalarize:
    """Rewrites a function body so that no variable holds a container (module doc).
    `env` gives the containers the function starts with: parameter -> literal of the
    names of its leaves."""

    def __init__(self, cap, namer, env: dict[str, ast.expr], top: bool = False) -> None:
        self.cap = cap
        # the function differentiated (not a helper being inlined): a returned tuple,
        # list or dict becomes the flat tuple of its leaves, its structure kept here
        self.top = top
        self.output: Container | None = None
        self.namer = namer
        self.env: dict[str, ast.expr] = dict(env)
        self.fixed: dict[str, ast.expr] = dict(env)   # variables with named leaves
        self.plain: set[str] = set()                    # names bound to non-containers
        self.stores: dict[str, int] = {}
        self.mutated: set[str] = set()
        self.loops: list[bool] = []                     # unrolled? for each loop around

    # -- errors ---------------------------------------------------------------

    def error(self, node: ast.AST, message: str, hint: str = "") -> UnsupportedSyntaxError:
        return self.cap.error(UnsupportedSyntaxError, node, message, hint=hint,
                              construct="container")

    # -- entry ----------------------------------------------------------------

    def function(self, body: list[ast.stmt]) -> list[ast.stmt]:
        module = ast.Module(body, [])
        for node in ast.walk(module):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.stores[node.id] = self.stores.get(node.id, 0) + 1
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    while isinstance(t, ast.Subscript):
                        t = t.value
                        if isinstance(t, ast.Name):
                            self.mutated.add(t.id)
                    if isinstance(node, ast.AugAssign) and isinstance(t, ast.Name):
                        self.mutated.add(t.id)
        if not self.env and not any(
                isinstance(n, (ast.Dict, ast.List, ast.ListComp, ast.GeneratorExp))
                or (isinstance(n, ast.Tuple)
                                                        and isinstance(n.ctx, ast.Load))
                or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                    and self.cap.functions.get(n.func.id) in ("dict", "zip", "tuple", "list",
                                                          "reversed"))
                for n in ast.walk(module)):
            return body     # nothing to do: keep the function as it is
        out = self.block(body)
        self._check_resolved(out)
        return out

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            for new in self.stmt(stmt):
                out.append(ast.copy_location(new, stmt) if not hasattr(new, "lineno")
                           else new)
        return out

    # -- statements -----------------------------------------------------------

    def stmt(self, stmt: ast.stmt) -> list[ast.stmt]:
        if isinstance(stmt, ast.Assign):
            return self._assign(stmt)
        if isinstance(stmt, ast.AugAssign):
            return self._augassign(stmt)
        if isinstance(stmt, ast.For):
            return self._for(stmt)
        if isinstance(stmt, ast.While):
            stmt.test = self.expr(stmt.test)
            self.loops.append(False)
            stmt.body = self.block(stmt.body)
            self.loops.pop()
            stmt.orelse = self.block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, ast.If):
            stmt.test = self.expr(stmt.test)
            stmt.body = self.block(stmt.body)
            stmt.orelse = self.block(stmt.orelse)
            return [stmt]
        if isinstance(stmt, (ast.Break, ast.Continue)):
            if self.loops and self.loops[-1]:
                word = "break" if isinstance(stmt, ast.Break) else "continue"
                raise self.error(stmt, f"'{word}' in a loop over a container (srcgrad "
                                       "unrolls such loops)",
                                 hint="loop over range(len(...)) and index the container")
            return [stmt]
        if isinstance(stmt, ast.Return):
            if stmt.value is not None:
                stmt.value = self.expr(stmt.value)
                if self.top and _nested_literal(stmt.value):
                    shape = output_structure(stmt.value)
                    if self.output is not None and shape != self.output:
                        raise self.error(stmt, "two returns give containers of different "
                                               "structures",
                                         hint="return the same keys, in the same order, "
                                              "from every return")
                    self.output = shape
                    stmt.value = ast.Tuple(leaves_of(stmt.value), ast.Load())
                if isinstance(stmt.value, (ast.List, ast.Dict)) or (
                        isinstance(stmt.value, ast.Tuple)
                        and any(is_literal(e) for e in stmt.value.elts)):
                    raise self.error(stmt, "returning a list, a dict or a nested tuple",
                                     hint="return a float (or, under vjp, a tuple of "
                                          "arrays and floats)")
            return [stmt]
        if isinstance(stmt, ast.Expr):
            stmt.value = self.expr(stmt.value)
            return [stmt]
        return [stmt]

    def _bind(self, name: str, value: ast.expr, node: ast.stmt) -> list[ast.stmt]:
        """`name = <container literal>`."""
        if name in self.plain:
            raise self.error(node, f"'{name}' is bound to a container here and to a "
                                   "single value elsewhere", hint="use another name")
        fixed = self.fixed.get(name)
        if fixed is not None:
            if skeleton(fixed) != skeleton(value):
                raise self.error(node, f"'{name}' is bound to containers of different "
                                       "structures", hint="use another name for each")
            targets = [leaf.id for leaf in leaves_of(fixed)]
            self.env[name] = fixed
            return self._leaf_assign(targets, leaves_of(value), node)
        once = self.stores.get(name, 0) <= 1 and name not in self.mutated \
            and not any(self.loops)
        values = leaves_of(value)
        if once:   # bound once, never written into: constants stay constants
            names = [None if isinstance(v, ast.Constant) else self.namer.fresh(f"_{name}_")
                     for v in values]
            new = iter([const(v.value) if n is None else load(n)
                        for n, v in zip(names, values)])
            self.env[name] = _replace_leaves(value, new)
            pairs = [(n, v) for n, v in zip(names, values) if n is not None]
            return self._leaf_assign([n for n, _ in pairs], [v for _, v in pairs], node)
        names = [self.namer.fresh(f"_{name}_") for _ in values]
        lit = _replace_leaves(value, iter([load(n) for n in names]))
        self.env[name] = self.fixed[name] = lit
        return self._leaf_assign(names, values, node)

    @staticmethod
    def _leaf_assign(targets: list[str], values: list[ast.expr], node) -> list[ast.stmt]:
        if not targets:
            return []
        if len(targets) == 1:
            return [ast.copy_location(ast.Assign([ast.Name(targets[0], ast.Store())],
                                                 values[0]), node)]
        return [ast.copy_location(ast.Assign(
            [ast.Tuple([ast.Name(t, ast.Store()) for t in targets], ast.Store())],
            ast.Tuple(values, ast.Load())), node)]

    def _assign(self, stmt: ast.Assign) -> list[ast.stmt]:
        value = self.expr(stmt.value)
        if len(stmt.targets) != 1:
            stmt.value = value
            return [stmt]
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            if is_literal(value):
                return self._bind(target.id, value, stmt)
            if target.id in self.fixed or target.id in self.env:
                raise self.error(stmt, f"'{target.id}' holds a container, and is assigned a "
                                       "single value here", hint="use another name")
            self.plain.add(target.id)
            stmt.value = value
            return [stmt]
        if isinstance(target, ast.Tuple):
            if is_literal(value) and not isinstance(value, ast.Dict) \
                    and len(value.elts) == len(target.elts) \
                    and any(is_literal(v) for v in value.elts):
                # a, (b, c) = ... with containers among the values: one binding each
                out: list[ast.stmt] = []
                plain = [(t, v) for t, v in zip(target.elts, value.elts) if not is_literal(v)]
                if plain:
                    out.append(ast.copy_location(ast.Assign(
                        [ast.Tuple([t for t, _ in plain], ast.Store())],
                        ast.Tuple([v for _, v in plain], ast.Load())), stmt))
                for t, v in zip(target.elts, value.elts):
                    if is_literal(v):
                        out += self._assign(ast.copy_location(ast.Assign([t], v), stmt))
                return out
            if isinstance(value, ast.Dict):
                raise self.error(stmt, "unpacking a dict", hint="read its values by key")
            if isinstance(value, ast.List) and len(value.elts) == len(target.elts):
                value = ast.Tuple(value.elts, ast.Load())   # a, b = [x, y]: as a tuple
            for t in target.elts:
                if isinstance(t, ast.Name):
                    self.plain.add(t.id)
                    if t.id in self.fixed:
                        raise self.error(stmt, f"'{t.id}' holds a container, and is "
                                               "assigned a single value here",
                                         hint="use another name")
            target.elts = [self._store_target(t, stmt) for t in target.elts]
            stmt.value = value
            return [stmt]
        if isinstance(target, ast.Subscript):
            element = self._element_target(target, stmt)
            if element is not None:
                return self._store_leaf(element, value, stmt)
            stmt.targets = [self._store_target(target, stmt)]
            stmt.value = value
            return [stmt]
        stmt.value = value
        return [stmt]

    def _store_leaf(self, element: ast.expr, value: ast.expr, stmt) -> list[ast.stmt]:
        if is_literal(element):
            if skeleton(element) != skeleton(value):
                raise self.error(stmt, "replacing a part of a container with a value of "
                                       "another structure", hint="build a new container")
            return self._leaf_assign([e.id for e in leaves_of(element)], leaves_of(value),
                                     stmt)
        if not isinstance(element, ast.Name):
            raise self.error(stmt, "writing into a container srcgrad made constant",
                             hint="bind the container to a variable before writing into it")
        if is_literal(value):
            raise self.error(stmt, "storing a container into a container",
                             hint="build the whole container in one literal")
        return self._leaf_assign([element.id], [value], stmt)

    def _element_target(self, target: ast.Subscript, stmt) -> ast.expr | None:
        """The leaf (or part) `d["k"]`, `t[0]` writes into, or None when the target is not
        an element of a container (an array store)."""
        base = target.value
        if isinstance(base, ast.Subscript):
            inner = self._element_target(base, stmt)
            if inner is None:
                return None
            container = inner
        elif isinstance(base, ast.Name) and base.id in self.env:
            if base.id not in self.fixed:
                raise self.error(stmt, "internal: a written container has no named leaves")
            container = self.fixed[base.id]
        else:
            return None
        if not is_literal(container):
            # an array leaf written at an index: d["W"][i] = v
            return None if not isinstance(container, ast.Name) else \
                ast.Subscript(container, target.slice, ast.Store())
        key = self._constant_key(target.slice)
        if key is _UNKNOWN:
            raise self.error(stmt, "writing into a container at a position known only at "
                                   "run time", hint="use a constant key or index, or an array")
        return self._lookup(container, key, target)

    def _store_target(self, target: ast.expr, stmt) -> ast.expr:
        """An assignment target with its container parts resolved (`d["W"][i]`)."""
        if isinstance(target, ast.Subscript):
            element = self._element_target(target, stmt) \
                if isinstance(target.value, (ast.Subscript, ast.Name)) else None
            if isinstance(element, ast.Subscript):
                return ast.copy_location(element, target)
            if isinstance(element, ast.Name):
                return ast.copy_location(ast.Name(element.id, ast.Store()), target)
            target.slice = self.expr(target.slice)
            return target
        return target

    def _augassign(self, stmt: ast.AugAssign) -> list[ast.stmt]:
        value = self.expr(stmt.value)
        target = stmt.target
        if isinstance(target, ast.Name) and target.id in self.env:
            raise self.error(stmt, f"'{target.id}' holds a container: augmented assignment "
                                   "to it", hint="write the new container out in full")
        if isinstance(target, ast.Subscript):
            element = self._element_target(target, stmt)
            if element is not None:
                if is_literal(element):
                    raise self.error(stmt, "augmented assignment to a part of a container "
                                           "that is itself a container",
                                     hint="update its leaves one by one")
                if isinstance(element, ast.Name):
                    element = ast.Name(element.id, ast.Store())
                stmt.target = ast.copy_location(element, target)
                stmt.value = value
                return [stmt]
            target.slice = self.expr(target.slice)
        stmt.value = value
        return [stmt]

    def _for(self, stmt: ast.For) -> list[ast.stmt]:
        iterable = self.expr(stmt.iter)
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) \
                and self.cap.functions.get(iterable.func.id) == "reversed":
            iterable = self._reversed_range(iterable, stmt)
        if not is_literal(iterable):
            stmt.iter = iterable
            self.loops.append(False)
            stmt.body = self.block(stmt.body)
            self.loops.pop()
            stmt.orelse = self.block(stmt.orelse)
            return [stmt]
        # a loop over a container: one copy of the body per element
        elements = [const(k) for k, _ in _items(iterable)] if isinstance(iterable, ast.Dict) \
            else list(iterable.elts)
        out: list[ast.stmt] = []
        self.loops.append(True)
        stored = {n.id for n in ast.walk(ast.Module(stmt.body, []))
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for element in elements:
            body = copy.deepcopy(stmt.body)
            mapping = _unpack(stmt.target, element)
            # a constant (a dict's key, a position) is written into the body's copy, so
            # that p[k] has a constant key there; any other element is assigned
            keys = {name: v for name, v in (mapping or {}).items()
                    if isinstance(v, ast.Constant) and name not in stored}
            if keys:
                body = [_Substitute(keys).visit(b) for b in body]
            if mapping is None or len(keys) < len(mapping):
                rest = [(n, v) for n, v in mapping.items() if n not in keys] \
                    if mapping is not None else None
                if rest is None:
                    bind = ast.Assign([copy.deepcopy(stmt.target)], copy.deepcopy(element))
                elif len(rest) == 1:
                    bind = ast.Assign([ast.Name(rest[0][0], ast.Store())],
                                      copy.deepcopy(rest[0][1]))
                else:
                    bind = ast.Assign([ast.Tuple([ast.Name(n, ast.Store()) for n, _ in rest],
                                                 ast.Store())],
                                      ast.Tuple([copy.deepcopy(v) for _, v in rest], ast.Load()))
                out += self._assign(ast.copy_location(bind, stmt))
            out += self.block(body)
        self.loops.pop()
        out += self.block(stmt.orelse)
        return out

    def _reversed_range(self, call: ast.Call, stmt) -> ast.expr:
        """reversed(range(a, b)) as range(b - 1, a - 1, -1) (a constant step s: from the
        last element a + (b - a - 1) // s * s down by s)."""
        inner = call.args[0] if len(call.args) == 1 and not call.keywords else None
        if not (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)
                and self.cap.functions.get(inner.func.id) == "range"
                and 1 <= len(inner.args) <= 3):
            raise self.error(stmt, "reversed() of something other than range() or a "
                                   "container", hint="loop over range(n - 1, -1, -1)")
        args = inner.args
        start, stop = (const(0), args[0]) if len(args) == 1 else (args[0], args[1])
        step = self._constant_key(args[2]) if len(args) == 3 else 1
        if type(step) is not int or step == 0:
            raise self.error(stmt, "reversed(range(a, b, step)) with a step known only at "
                                   "run time", hint="write the descending range out")
        one = const(1)
        if step == 1:
            first = ast.BinOp(copy.deepcopy(stop), ast.Sub(), one)
        else:   # a + (b - a - 1) // s * s (b - a + 1 for a negative step)
            span = ast.BinOp(ast.BinOp(copy.deepcopy(stop), ast.Sub(), copy.deepcopy(start)),
                             ast.Sub() if step > 0 else ast.Add(), one)
            first = ast.BinOp(copy.deepcopy(start), ast.Add(), ast.BinOp(
                ast.BinOp(span, ast.FloorDiv(), const(step)), ast.Mult(), const(step)))
        end = ast.BinOp(copy.deepcopy(start), ast.Sub() if step > 0 else ast.Add(), one)
        return ast.copy_location(ast.Call(inner.func, [first, end, const(-step)], []), call)

    # -- expressions ----------------------------------------------------------

    def expr(self, node: ast.expr) -> ast.expr:
        return _Rewrite(self).visit(node)

    def _constant_key(self, node: ast.expr):
        if isinstance(node, ast.Constant) and type(node.value) in (int, str):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
            return -node.operand.value
        if isinstance(node, ast.Slice):
            bounds = []
            for b in (node.lower, node.upper, node.step):
                if b is None:
                    bounds.append(None)
                    continue
                k = self._constant_key(b)
                if type(k) is not int:
                    return _UNKNOWN
                bounds.append(k)
            return slice(*bounds)
        return _UNKNOWN

    def _lookup(self, lit: ast.expr, key, node: ast.AST) -> ast.expr:
        items = _items(lit)
        if isinstance(lit, ast.Dict):
            for k, v in items:
                if k == key:
                    return v
            raise self.error(node, f"the dict has no key {key!r}; its keys are "
                                   f"{', '.join(repr(k) for k, _ in items) or '(none)'}")
        if isinstance(key, slice):
            return type(lit)([v for _, v in items][key], ast.Load())
        if type(key) is not int:
            raise self.error(node, f"a tuple or list indexed by {key!r}",
                             hint="index it by an int")
        if not -len(items) <= key < len(items):
            raise self.error(node, f"index {key} is out of range for a container of "
                                   f"{len(items)} elements")
        return items[key][1]

    def _check_resolved(self, body: list[ast.stmt]) -> None:
        for node in ast.walk(ast.Module(body, [])):
            if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
                raise self.error(node, "a comprehension srcgrad could not unroll",
                                 hint="write a for loop")
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                    and isinstance(node.slice.value, str):
                raise self.error(node, f"[{node.slice.value!r}] on a value that is not a dict",
                                 hint="index dicts you pass in or build with {...} or "
                                      "dict(...)")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and self.cap.functions.get(node.func.id) in ("dict", "zip", "tuple",
                                                                 "list", "sum"):
                raise self.error(node, f"{node.func.id}() of a value that is not a tuple, "
                                       "list or dict srcgrad knows",
                                 hint="call it on a container literal, a container "
                                      "argument or a variable bound to one")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in CONTAINER_METHODS:
                raise self.error(node, f"'.{node.func.attr}()' of a value that is not a dict",
                                 hint="call it on a dict argument or a dict literal")


CONTAINER_METHODS = {"keys", "values", "items", "get"}
_UNKNOWN = object()


def _unpack(target: ast.expr, value: ast.expr) -> dict[str, ast.expr] | None:
    """name -> value for a comprehension target bound to `value` (None: no match)."""
    if isinstance(target, ast.Name):
        return {target.id: value}
    if isinstance(target, ast.Tuple) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts):
        out: dict[str, ast.expr] = {}
        for t, v in zip(target.elts, value.elts):
            part = _unpack(t, v)
            if part is None:
                return None
            out.update(part)
        return out
    return None


class _Substitute(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, ast.expr]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id in self.mapping:
            return ast.copy_location(copy.deepcopy(self.mapping[node.id]), node)
        return node


class _Rewrite(ast.NodeTransformer):
    """Reads of container variables become literals; operations on literals with
    constant keys are resolved (Scalarize.expr)."""

    def __init__(self, owner: Scalarize) -> None:
        self.s = owner

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id in self.s.env:
            return ast.copy_location(copy.deepcopy(self.s.env[node.id]), node)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        self.generic_visit(node)
        if not is_literal(node.value):
            return node
        key = self.s._constant_key(node.slice)
        if key is not _UNKNOWN:
            found = self.s._lookup(node.value, key, node)
            return ast.copy_location(copy.deepcopy(found), node) \
                if not is_literal(found) else found
        if isinstance(node.value, ast.Dict):
            raise self.s.error(node, "a dict read with a key known only at run time",
                               hint="use a constant key, or an array indexed by an int")
        if any(is_literal(e) for e in node.value.elts):
            raise self.s.error(node, "a container of containers indexed at run time",
                               hint="use a constant index, or arrays")
        # x[i] of a tuple or list of floats or arrays: the array of its elements
        return ast.copy_location(ast.Subscript(ast.List(node.value.elts, ast.Load()),
                                               node.slice, ast.Load()), node)

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.generic_visit(node)
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)) \
                and is_literal(node.comparators[0]):
            key = self.s._constant_key(node.left)
            lit = node.comparators[0]
            if key is _UNKNOWN or not isinstance(lit, ast.Dict):
                raise self.s.error(node, "'in' on a container", hint="test a constant key "
                                                                     "of a dict")
            found = any(k == key for k, _ in _items(lit))
            return ast.copy_location(const(found == isinstance(node.ops[0], ast.In)), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in CONTAINER_METHODS \
                and is_literal(func.value):
            return self._method(node, func.attr, func.value)
        name = self.s.cap.functions.get(func.id) if isinstance(func, ast.Name) else None
        args = node.args
        if name == "dict":
            if len(args) > 1 or (args and not isinstance(args[0], ast.Dict)):
                raise self.s.error(node, "dict() of something other than keywords or a dict",
                                   hint="write dict(a=x, b=y) or {'a': x, 'b': y}")
            pairs = [(k, v) for k, v in _items(args[0])] if args else []
            pairs += [(k.arg, k.value) for k in node.keywords]
            return ast.copy_location(ast.Dict([const(k) for k, _ in pairs],
                                              [v for _, v in pairs]), node)
        if name == "enumerate" and len(args) == 1 and is_literal(args[0]) \
                and [k.arg for k in node.keywords] == ["start"]:
            start = self.s._constant_key(node.keywords[0].value)
            if type(start) is not int:
                raise self.s.error(node, "enumerate(start=) with a start known only at run "
                                         "time", hint="use a constant start")
            return ast.copy_location(ast.Tuple(
                [ast.Tuple([const(start + i), e], ast.Load())
                 for i, e in enumerate(self._elements(args[0]))], ast.Load()), node)
        if name == "enumerate" and node.keywords:
            return node     # over an array: a for loop counts from start (normalize.py)
        if name is None or len(args) != 1 or node.keywords and name != "dict":
            if name == "zip" and args and all(is_literal(a) for a in args):
                rows = zip(*[self._elements(a) for a in args])
                return ast.copy_location(ast.Tuple(
                    [ast.Tuple(list(r), ast.Load()) for r in rows], ast.Load()), node)
            return node
        arg = args[0]
        if not is_literal(arg):
            return node
        elements = self._elements(arg)
        if name == "len":
            return ast.copy_location(const(len(elements)), node)
        if name in ("tuple", "list"):
            kind = ast.Tuple if name == "tuple" else ast.List
            return ast.copy_location(kind(elements, ast.Load()), node)
        if name == "enumerate":
            return ast.copy_location(ast.Tuple(
                [ast.Tuple([const(i), e], ast.Load()) for i, e in enumerate(elements)],
                ast.Load()), node)
        if name == "reversed":
            return ast.copy_location(ast.Tuple(elements[::-1], ast.Load()), node)
        if name in ("any", "all"):
            if not elements:
                return ast.copy_location(const(name == "all"), node)
            op = ast.Or() if name == "any" else ast.And()
            return ast.copy_location(ast.BoolOp(op, elements), node) \
                if len(elements) > 1 else elements[0]
        if name == "zip":
            return ast.copy_location(ast.Tuple(
                [ast.Tuple([e], ast.Load()) for e in elements], ast.Load()), node)
        if name == "sum":
            if not elements:
                return ast.copy_location(const(0), node)
            total = elements[0]
            for e in elements[1:]:
                total = ast.BinOp(total, ast.Add(), e)
            return ast.copy_location(total, node)
        if name in ("min", "max") and len(elements) >= 2:
            return ast.copy_location(ast.Call(func, elements, []), node)
        if name in ("min", "max") and len(elements) == 1:
            return elements[0]
        return node

    def visit_ListComp(self, node: ast.ListComp) -> ast.expr:
        return self._comprehension(node, ast.List)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.expr:
        return self._comprehension(node, ast.Tuple)

    def _called(self, node) -> str | None:
        """The builtin a call calls (`range`, `reversed`), or None."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self.s.cap.functions.get(node.func.id)
        return None

    def _comprehension(self, node, kind) -> ast.expr:
        """[e for v in <container or range(constants)>]: the literal of the elements
        (unrolled, as a for loop over a container)."""
        if len(node.generators) != 1 or node.generators[0].ifs:
            raise self.s.error(node, "a comprehension with several for clauses or an if",
                               hint="write a for loop")
        gen = node.generators[0]
        iterable = self.visit(gen.iter)
        backwards = self._called(iterable) == "reversed" and len(iterable.args) == 1
        if backwards:   # reversed(range(<constants>))
            iterable = iterable.args[0]
        if is_literal(iterable) and not backwards:
            elements = self._elements(iterable)
        elif self._called(iterable) == "range" \
                and all(type(self.s._constant_key(a)) is int for a in iterable.args):
            elements = [const(i) for i in range(*[self.s._constant_key(a)
                                                  for a in iterable.args])][
                ::-1 if backwards else 1]
        else:
            raise self.s.error(node, "a comprehension over something other than a container "
                                     "or a range of constants",
                               hint="write a for loop")
        out = []
        for element in elements:
            mapping = _unpack(gen.target, element)
            if mapping is None:
                raise self.s.error(node, "the comprehension's target does not match the "
                                         "elements", hint="write a for loop")
            out.append(self.visit(_Substitute(mapping).visit(copy.deepcopy(node.elt))))
        return ast.copy_location(kind(out, ast.Load()), node)

    def _elements(self, lit: ast.expr) -> list[ast.expr]:
        """What iterating over a container gives: a dict's keys, else its elements."""
        if isinstance(lit, ast.Dict):
            return [const(k) for k, _ in _items(lit)]
        return list(lit.elts)

    def _method(self, node: ast.Call, method: str, lit: ast.expr) -> ast.expr:
        if not isinstance(lit, ast.Dict):
            raise self.s.error(node, f"'.{method}()' of a tuple or list",
                               hint="it is a dict method")
        items = _items(lit)
        if method == "keys":
            out: ast.expr = ast.Tuple([const(k) for k, _ in items], ast.Load())
        elif method == "values":
            out = ast.Tuple([v for _, v in items], ast.Load())
        elif method == "items":
            out = ast.Tuple([ast.Tuple([const(k), v], ast.Load()) for k, v in items],
                            ast.Load())
        else:   # get
            if not node.args or len(node.args) > 2 or node.keywords:
                raise self.s.error(node, "d.get() takes a key and an optional default")
            key = self.s._constant_key(node.args[0])
            if key is _UNKNOWN:
                raise self.s.error(node, "d.get() with a key known only at run time",
                                   hint="use a constant key")
            found = [v for k, v in items if k == key]
            out = found[0] if found else (node.args[1] if len(node.args) > 1 else const(None))
        return ast.copy_location(out, node) if not is_literal(out) else out
