"""Turn mean and one covariance argument into (mean, L) with Sigma = L L^T, with the checks.

Shapes, dtypes and the choice of argument are checked when the call is traced (`ValueError`,
`TypeError`); values (NaN or inf, an asymmetric or indefinite `cov`) when they are known, or at
run time under `jit` and `vmap` (see `_runtime.py`).
"""

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._runtime import check, check_number

COVARIANCE_ARGUMENTS = ("cov", "scale_tril", "cov_factor", "cov_diag")


def symmetry_tolerance(dtype) -> float:
    r"""How far `cov` may be from symmetric and still be accepted as rounding: $\sqrt\epsilon$
    of its dtype (1.5e-8 in float64, 3.5e-4 in float32), in units of
    $\sqrt{\Sigma_{ii}\Sigma_{jj}}$ (a correlation)."""
    return float(np.sqrt(np.finfo(dtype).eps))


def _as_real_array(value, name: str, caller: str) -> Array:
    try:
        array = jnp.asarray(value)
    except TypeError as error:
        raise TypeError(
            f"{caller}: {name} must be an array, got {type(value).__name__}."
        ) from error
    if jnp.issubdtype(array.dtype, jnp.complexfloating) or array.dtype == jnp.bool_:
        raise TypeError(f"{caller}: {name} must be real, got dtype {array.dtype}.")
    return array


def _floating_dtype(*arrays: Array) -> jnp.dtype:
    dtype = jnp.result_type(*arrays)
    return dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.result_type(float)


def validate_gaussian(mean, covariance: dict, caller: str) -> tuple[Float[Array, " n"], str, Array]:
    """Check mean and the one covariance argument given; return (mean, its name, its value),
    both arrays in their common floating dtype.

    `covariance` maps each of cov, scale_tril, cov_factor, cov_diag to its value or None.
    """
    given = {name: value for name, value in covariance.items() if value is not None}
    if len(given) != 1:
        got = ", ".join(given) if given else "none"
        raise ValueError(
            f"{caller}: pass exactly one of cov, scale_tril, cov_factor, cov_diag (got {got})."
        )
    ((name, value),) = given.items()

    mean = _as_real_array(mean, "mean", caller)
    if mean.ndim != 1 or mean.shape[0] == 0:
        raise ValueError(
            f"{caller}: mean must be a non-empty 1-D array of shape (n,), got shape {mean.shape}. "
            "For a batch of Gaussians, use jax.vmap."
        )
    n = mean.shape[0]
    value = _as_real_array(value, name, caller)
    dtype = _floating_dtype(mean, value)
    mean, value = mean.astype(dtype), value.astype(dtype)

    expected = {"cov": (n, n), "scale_tril": (n, n), "cov_diag": (n,)}.get(name)
    if name == "cov_factor":
        if value.ndim != 2 or value.shape[0] != n or value.shape[1] == 0:
            raise ValueError(
                f"{caller}: cov_factor must have shape (n, r) = ({n}, r) with r >= 1 to match "
                f"mean of shape ({n},), got shape {value.shape}."
            )
    elif value.shape != expected:
        raise ValueError(
            f"{caller}: {name} must have shape {expected} to match mean of shape ({n},), "
            f"got shape {value.shape}."
        )
    return mean, name, value


def checked_mean(mean: Float[Array, " n"], caller: str) -> Float[Array, " n"]:
    """mean, or an error where it holds NaN or inf."""
    return check(
        mean,
        ~jnp.isfinite(mean),
        f"{caller}: mean holds NaN or inf; every entry must be finite.",
    )


def factor_from(name: str, value: Array, caller: str) -> Float[Array, "n r"]:
    r"""L with $\Sigma = L L^\top$ from a validated covariance argument, differentiable in it.

    `cov` must be symmetric up to rounding (`symmetry_tolerance`) and is factored by Cholesky
    (r = n) through its symmetric part (cov + cov^T) / 2, so that its gradient is the symmetric
    one; `scale_tril` is L itself (its lower triangle); `cov_factor` is an n x r factor (a
    low-rank, possibly degenerate Gaussian); `cov_diag` gives L = diag(sqrt(cov_diag)). NaN or
    inf in any of them, an asymmetric `cov` or one that is not positive definite, and a
    variance that is not positive raise (eagerly a ValueError, under `jit` at run time).
    """
    if name == "cov":
        return _checked_cholesky(value, caller)
    if name == "cov_diag":
        value = check(
            value,
            ~(jnp.isfinite(value) & (value > 0)),
            f"{caller}: cov_diag must be positive and finite; a zero or negative variance "
            "has no square root with a finite derivative.",
        )
        return jnp.diag(jnp.sqrt(value))
    factor = jnp.tril(value) if name == "scale_tril" else value
    return check(factor, ~jnp.isfinite(factor), f"{caller}: {name} holds NaN or inf.")


def mean_and_factor(
    mean, covariance: dict, caller: str
) -> tuple[Float[Array, " n"], Float[Array, "n r"]]:
    """Validate the Gaussian's parameters and return (mean, L) with Sigma = L L^T."""
    mean, name, value = validate_gaussian(mean, covariance, caller)
    return checked_mean(mean, caller), factor_from(name, value, caller)


SMALL = 4
"""Up to this dimension the Cholesky factor is written out entry by entry (elementwise
arithmetic): under `jax.vmap` over many small Gaussians that is one vectorised computation,
where `jnp.linalg.cholesky` and its derivative call a small factorisation per Gaussian."""


def _checked_cholesky(cov: Float[Array, "n n"], caller: str) -> Float[Array, "n n"]:
    cov = check(
        cov,
        ~jnp.isfinite(cov),
        f"{caller}: cov holds NaN or inf. Every entry of a covariance must be finite.",
    )
    tolerance = symmetry_tolerance(cov.dtype)
    asymmetry = _asymmetry(cov)
    cov = check_number(
        cov,
        asymmetry > tolerance,
        asymmetry,
        f"{caller}: cov is not symmetric: max |cov[i, j] - cov[j, i]| / sqrt(cov[i, i] "
        f"cov[j, j]) is {{}}, beyond the {tolerance:.1e} allowed for rounding in "
        f"{cov.dtype}. Pass a symmetric matrix (e.g. (cov + cov.T) / 2 if the difference is "
        "rounding of your own), or scale_tril / cov_factor.",
    )
    symmetric = (cov + cov.T) / 2
    if cov.shape[0] <= SMALL:
        factor = _small_cholesky(symmetric)
    else:
        factor = jnp.linalg.cholesky(symmetric)
    return check(
        factor,
        ~jnp.isfinite(factor),
        f"{caller}: cov is not positive definite (its Cholesky factorisation failed). Add "
        "jitter (cov + eps * I), or pass cov_factor for a low-rank (degenerate) Gaussian.",
    )


def _asymmetry(cov: Float[Array, "n n"]) -> Float[Array, ""]:
    r"""$\max_{ij} |\Sigma_{ij} - \Sigma_{ji}| / \sqrt{|\Sigma_{ii}\Sigma_{jj}|}$ (inf where a
    zero variance faces an asymmetric pair)."""
    difference = jnp.abs(cov - cov.T)
    scale = jnp.sqrt(jnp.abs(jnp.outer(jnp.diag(cov), jnp.diag(cov))))
    ratio = jnp.where(scale > 0, difference / jnp.where(scale > 0, scale, 1), jnp.inf)
    return jnp.max(jnp.where(difference > 0, ratio, 0.0))


def _small_cholesky(a: Float[Array, "n n"]) -> Float[Array, "n n"]:
    """The Cholesky factor by the Cholesky-Banachiewicz recurrence, unrolled (NaN where `a` is
    not positive definite, as `jnp.linalg.cholesky`)."""
    n = a.shape[0]
    L = [[jnp.zeros((), a.dtype)] * n for _ in range(n)]
    for j in range(n):
        diagonal = a[j, j] - sum((L[j][k] ** 2 for k in range(j)), jnp.zeros((), a.dtype))
        L[j][j] = jnp.sqrt(jnp.where(diagonal > 0, diagonal, jnp.nan))
        for i in range(j + 1, n):
            dot = sum((L[i][k] * L[j][k] for k in range(j)), jnp.zeros((), a.dtype))
            L[i][j] = (a[i, j] - dot) / L[j][j]
    return jnp.stack([jnp.stack(row) for row in L])
