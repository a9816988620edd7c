"""What the tests share: the corpora of programs with their points (corpus_*), the
independent gradient oracles (oracles, oracles_np: finite differences, autograd, JAX),
the functions of the golden files, and the differential fuzzer (progfuzz, with its
campaign runner: ``python -m tests.support.fuzz_run``)."""
