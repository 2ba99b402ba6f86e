r"""The projection stage: f a function of $y = W^\top x$ is a k-dimensional problem.

With $x \sim N(\mu, L L^\top)$, $y = W^\top x \sim N(W^\top\mu, (W^\top L)(W^\top L)^\top)$: the
rule runs in k dimensions (or r, the rank of L, if smaller), on the factor $W^\top L$, itself
re-factored by Cholesky to k x k when r > k. Everything stays differentiable in mean, the
covariance and W. `Problem.integrate` applies it, so every entry point and estimator sees the
reduced problem; W is given (`projection=W`) or found in f's program (`_find_projection`).
"""

import jax.numpy as jnp
from jaxtyping import Array, Float

from ._covariance import _as_real_array
from ._runtime import check


def project(problem):
    """The problem in the k dimensions of its projection (unchanged without one)."""
    W = problem.projection
    if W is None:
        return problem
    factor = W.T @ problem.factor
    k, r = factor.shape
    if r > k:
        factor = _checked_cholesky(factor @ factor.T, problem.caller)
    return problem.replace(mean=W.T @ problem.mean, factor=factor, projection=None)


def projected_dim(factor_shape: tuple[int, int], projection) -> int:
    """The dimension the rule runs in: r, or min(k, r) with a projection of k columns."""
    r = factor_shape[1]
    return r if projection is None else min(r, projection.shape[1])


def check_projection(
    projection, mean: Float[Array, " n"], caller: str
) -> Float[Array, "n k"] | None:
    """The `projection` argument: W as an array of shape (n, k), 1 <= k <= n, in mean's dtype;
    None for None or "auto"; or a clear error."""
    if projection is None or (isinstance(projection, str) and projection == "auto"):
        return None
    if isinstance(projection, str):
        raise ValueError(
            f"{caller}: projection must be a matrix W of shape (n, k), None or 'auto', got "
            f"{projection!r}."
        )
    W = _as_real_array(projection, "projection", caller)
    n = mean.shape[0]
    if W.ndim != 2 or W.shape[0] != n or not 1 <= W.shape[1] <= n:
        raise ValueError(
            f"{caller}: projection must be a matrix W of shape (n, k) = ({n}, k), 1 <= k <= {n}, "
            f"with f a function of y = W^T x of shape (k,); got shape {W.shape}. Pass "
            "projection=None for no projection, or leave it out to let gaussjax find one."
        )
    return W.astype(mean.dtype)


def _checked_cholesky(matrix: Float[Array, "k k"], caller: str) -> Float[Array, "k k"]:
    factor = jnp.linalg.cholesky(matrix)
    return check(
        factor,
        ~jnp.isfinite(factor),
        f"{caller}: the projected covariance W^T Sigma W is not positive definite (W has "
        "linearly dependent columns, or Sigma is singular along them), or it holds NaN or inf. "
        "Give W independent columns, or pass projection=None.",
    )
