"""srcgrad: automatic differentiation by source transformation, compiled with Numba.

    import srcgrad

    @srcgrad.grad
    def f(x):
        ...

    f(1.5)            # the gradient, from generated source compiled with Numba
    srcgrad.show(f)   # the generated adjoint
"""

__version__ = "0.1.0"

from .api import GradFunction, grad, show, stop_gradient, value_and_grad, vjp  # noqa: E402
from .check import GradCheck, check_grad  # noqa: E402
from .higher import hessian, hvp, jacobian, jvp  # noqa: E402
from .runtime_np import broadcast_like  # noqa: E402,F401  (called by generated tangents)
from .custom import custom_vjp, non_differentiable  # noqa: E402
from .errors import (  # noqa: E402
    GradientCheckError,
    MissingRuleError,
    NonScalarOutputError,
    SourceError,
    SourceUnavailableError,
    SrcgradError,
    TypeInferenceError,
    UnsupportedSyntaxError,
    UsageError,
)
from .pipeline import InternalError  # noqa: E402

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp", "show", "stop_gradient", "GradFunction",
    "custom_vjp", "non_differentiable", "check_grad", "GradCheck", "GradientCheckError",
    "SrcgradError", "SourceError", "UnsupportedSyntaxError", "MissingRuleError",
    "TypeInferenceError", "NonScalarOutputError", "UsageError", "SourceUnavailableError",
    "InternalError",
]
