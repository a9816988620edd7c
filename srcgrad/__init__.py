"""srcgrad: automatic differentiation by source transformation, compiled with Numba.

    import srcgrad

    @srcgrad.grad
    def f(x):
        ...

    f(1.5)            # the gradient, from generated source compiled with Numba
    srcgrad.show(f)   # the generated adjoint
"""

from ._version import __version__
from .api import grad, show, stop_gradient, value_and_grad, vjp
from .check import GradCheck, check_grad
from .custom import custom_vjp, non_differentiable
from .errors import (
    GradientCheckError,
    InternalError,
    MissingRuleError,
    NonScalarOutputError,
    SourceError,
    SourceUnavailableError,
    SrcgradError,
    TapeLimitError,
    TypeInferenceError,
    UnsupportedSyntaxError,
    UsageError,
)
from .gradfn import GradFunction
from .higher import hessian, hvp, jacobian, jvp
from .tapelimit import TapeInfo
from .runtime import broadcast_like  # noqa: F401  (generated tangents call srcgrad.broadcast_like)

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp", "show", "stop_gradient", "GradFunction",
    "custom_vjp", "non_differentiable", "check_grad", "GradCheck", "GradientCheckError",
    "SrcgradError", "SourceError", "UnsupportedSyntaxError", "MissingRuleError",
    "TypeInferenceError", "NonScalarOutputError", "UsageError", "SourceUnavailableError",
    "InternalError", "TapeLimitError", "TapeInfo", "__version__",
]
