"""The functions of Numba's registry (tests/test_registry.py) that JAX has too, by name:
jax.numpy and jax.numpy.linalg (written with JAX 0.10.2; ``python -m tests.support.jax_surface``
prints the list again from the JAX installed, and tests/test_registry.py compares the two
where JAX is installed)."""

JAX_NAMES = frozenset({
    "np.abs", "np.absolute", "np.acos", "np.acosh", "np.add", "np.all", "np.allclose",
    "np.amax", "np.amin", "np.angle", "np.any", "np.append", "np.arange", "np.arccos",
    "np.arccosh", "np.arcsin", "np.arcsinh", "np.arctan", "np.arctan2", "np.arctanh",
    "np.argmax", "np.argmin", "np.argpartition", "np.argsort", "np.argwhere", "np.around",
    "np.array", "np.array_equal", "np.array_split", "np.asarray", "np.asin", "np.asinh",
    "np.atan", "np.atan2", "np.atanh", "np.atleast_1d", "np.atleast_2d", "np.atleast_3d",
    "np.average", "np.bartlett", "np.bincount", "np.bitwise_and", "np.bitwise_invert",
    "np.bitwise_left_shift", "np.bitwise_not", "np.bitwise_or", "np.bitwise_right_shift",
    "np.bitwise_xor", "np.blackman", "np.broadcast_arrays", "np.broadcast_shapes",
    "np.broadcast_to", "np.cbrt", "np.ceil", "np.clip", "np.column_stack", "np.concat",
    "np.concatenate", "np.conj", "np.conjugate", "np.convolve", "np.copy", "np.copysign",
    "np.corrcoef", "np.correlate", "np.cos", "np.cosh", "np.count_nonzero", "np.cov",
    "np.cross", "np.cumprod", "np.cumsum", "np.deg2rad", "np.degrees", "np.delete", "np.diag",
    "np.diagflat", "np.diff", "np.digitize", "np.divide", "np.divmod", "np.dot", "np.dsplit",
    "np.dstack", "np.ediff1d", "np.empty", "np.empty_like", "np.equal", "np.exp", "np.exp2",
    "np.expand_dims", "np.expm1", "np.extract", "np.eye", "np.fabs", "np.fill_diagonal",
    "np.flatnonzero", "np.flip", "np.fliplr", "np.flipud", "np.float_power", "np.floor",
    "np.floor_divide", "np.fmax", "np.fmin", "np.fmod", "np.frombuffer", "np.full",
    "np.full_like", "np.gcd", "np.geomspace", "np.greater", "np.greater_equal", "np.hamming",
    "np.hanning", "np.histogram", "np.hsplit", "np.hstack", "np.hypot", "np.identity",
    "np.imag", "np.indices", "np.insert", "np.interp", "np.intersect1d", "np.invert",
    "np.isclose", "np.iscomplex", "np.iscomplexobj", "np.isfinite", "np.isin", "np.isinf",
    "np.isnan", "np.isneginf", "np.isposinf", "np.isreal", "np.isrealobj", "np.isscalar",
    "np.kaiser", "np.kron", "np.lcm", "np.ldexp", "np.left_shift", "np.less", "np.less_equal",
    "np.linalg.cholesky", "np.linalg.cond", "np.linalg.det", "np.linalg.eig", "np.linalg.eigh",
    "np.linalg.eigvals", "np.linalg.eigvalsh", "np.linalg.inv", "np.linalg.lstsq",
    "np.linalg.matrix_power", "np.linalg.matrix_rank", "np.linalg.norm", "np.linalg.pinv",
    "np.linalg.qr", "np.linalg.slogdet", "np.linalg.solve", "np.linalg.svd", "np.linspace",
    "np.log", "np.log10", "np.log1p", "np.log2", "np.logaddexp", "np.logaddexp2",
    "np.logical_and", "np.logical_not", "np.logical_or", "np.logical_xor", "np.logspace",
    "np.max", "np.maximum", "np.mean", "np.median", "np.min", "np.minimum", "np.mod",
    "np.moveaxis", "np.multiply", "np.nan_to_num", "np.nanargmax", "np.nanargmin",
    "np.nancumprod", "np.nancumsum", "np.nanmax", "np.nanmean", "np.nanmedian", "np.nanmin",
    "np.nanpercentile", "np.nanprod", "np.nanquantile", "np.nanstd", "np.nansum", "np.nanvar",
    "np.negative", "np.nextafter", "np.nonzero", "np.not_equal", "np.ones", "np.ones_like",
    "np.outer", "np.partition", "np.percentile", "np.permute_dims", "np.positive", "np.pow",
    "np.power", "np.prod", "np.ptp", "np.quantile", "np.rad2deg", "np.radians", "np.ravel",
    "np.real", "np.reciprocal", "np.remainder", "np.repeat", "np.reshape", "np.resize",
    "np.right_shift", "np.rint", "np.roll", "np.roots", "np.rot90", "np.round",
    "np.searchsorted", "np.select", "np.setdiff1d", "np.setxor1d", "np.shape", "np.sign",
    "np.signbit", "np.sin", "np.sinc", "np.sinh", "np.size", "np.sort", "np.spacing",
    "np.split", "np.sqrt", "np.square", "np.stack", "np.std", "np.subtract", "np.sum",
    "np.swapaxes", "np.take", "np.take_along_axis", "np.tan", "np.tanh", "np.trace",
    "np.transpose", "np.trapezoid", "np.tri", "np.tril", "np.tril_indices",
    "np.tril_indices_from", "np.trim_zeros", "np.triu", "np.triu_indices",
    "np.triu_indices_from", "np.true_divide", "np.trunc", "np.union1d", "np.unique",
    "np.unwrap", "np.vander", "np.var", "np.vdot", "np.vsplit", "np.vstack", "np.where",
    "np.zeros", "np.zeros_like",
})


def current() -> list[str]:
    """The same list from the JAX installed (the registry is Numba's)."""
    import jax.numpy as jnp
    from tests.test_registry import CLASSES
    return sorted(k for k in CLASSES if k.startswith("np.") and hasattr(
        jnp.linalg if k.startswith("np.linalg.") else jnp, k.rpartition(".")[2]))


if __name__ == "__main__":
    print("\n".join(current()))
