"""The compiler: a user function's source in, generated adjoint and tangent source out.

The stages, in order (``pipeline.py`` is the recipe):

=============  ===============================================================
capture        read the source, parse it, resolve its free names
fence          refuse what is outside the language, at its line
normalize      the core language: one operation per statement, jumps as flags;
               ``inline`` splices helpers in, ``nested`` derivatives it calls
types          Numba's type inference of the normalized function (``infer``)
analyze        activity, positions, stability; aliasing and missing rules
reverse        the adjoint: ``reverse`` (structure), ``segment`` (straight-line
               code), ``tapegen`` (pushes and pops), ``fuse`` (sums of
               independent iterations)
forward        the tangent function, statement by statement
emit           readable, deterministic source with the user's lines
compile        the module written, imported, compiled by Numba (``jit``)
=============  ===============================================================

``rules`` is the table of derivative rules every stage reads; ``core`` the core
language's helpers; ``tangent`` builds and compiles tangent functions (forward mode,
second derivatives, nested derivatives). The compiler imports the runtime (what
generated code calls) and nothing of the face but its errors.
"""
