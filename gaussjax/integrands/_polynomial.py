"""Polynomials of any degree, by Gaussian moments (Isserlis), and the quadratic form."""

import functools
import operator

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ._base import AbstractIntegrand, as_float_array, optional_float_array
from ._moments import Exponents, monomial_moments


def _as_exponents(value) -> tuple[Exponents, ...]:
    array = np.asarray(value)
    if array.ndim != 2 or array.shape[1] == 0 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            "gj.integrands.Polynomial: exponents must be a (terms, n) table of ints, one row of "
            f"n exponents per term, got {value!r}."
        )
    if (array < 0).any():
        raise ValueError(f"gj.integrands.Polynomial: exponents must be >= 0, got {value!r}.")
    return tuple(tuple(int(e) for e in row) for row in array)


class Polynomial(AbstractIntegrand):
    r"""$p(x) = \sum_t c_t \prod_k x_k^{e_{tk}}$, a polynomial of any degree.

    $E[p(x)]$ is a sum of Gaussian moments, computed exactly by Stein's identity
    $E[x_i h(x)] = \mu_i E[h] + \sum_k \Sigma_{ik} E[\partial_k h]$ (Isserlis' theorem with a
    mean): for example $E[x_0^2 x_1] = (\mu_0^2 + \Sigma_{00})\mu_1 + 2\Sigma_{01}\mu_0$. The
    cost grows with the number of monomials of lower degree, $\prod_k (e_k + 1)$ per term.

    Args:
        coefficients: $c_t$, shape (terms,); traceable (differentiable) leaves.
        exponents: $e_{tk}$, a (terms, n) table of non-negative ints, fixed at trace time.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> p = gj.integrands.Polynomial(coefficients=[1.0], exponents=[[2, 1]])   # x0^2 x1
        >>> mean, cov = jnp.array([1.0, 2.0]), jnp.array([[1.0, 0.5], [0.5, 2.0]])
        >>> float(gj.expectation(p, mean, cov))       # (1 + 1) * 2 + 2 * 0.5 * 1
        5.0
    """

    coefficients: Float[Array, " terms"] = eqx.field(converter=as_float_array)
    exponents: tuple[Exponents, ...] = eqx.field(static=True, converter=_as_exponents)

    def __check_init__(self):
        if self.coefficients.shape != (len(self.exponents),):
            raise ValueError(
                "gj.integrands.Polynomial: coefficients must have shape (terms,) = "
                f"({len(self.exponents)},), one per row of exponents, got shape "
                f"{self.coefficients.shape}."
            )

    @property
    def dim(self) -> int:
        return len(self.exponents[0])

    @property
    def degree(self) -> int:
        """The total degree, the largest sum of a row of exponents."""
        return max(sum(e) for e in self.exponents)

    def __call__(self, x: Float[Array, " n"]) -> Float[Array, ""]:
        def monomial(e):
            powers = [x[k] ** ek for k, ek in enumerate(e) if ek]
            return functools.reduce(operator.mul, powers, jnp.ones((), x.dtype))

        return self.coefficients @ jnp.stack([monomial(e) for e in self.exponents])

    def expectation(self, mean, cov):
        return self.coefficients @ jnp.stack(moments(self.exponents, mean, cov))

    polynomial_products = True

    def polynomial_expectation(self, polynomial, mean, cov):
        return self.times(polynomial).expectation(mean, cov)

    def as_polynomial(self) -> "Polynomial":
        return self

    def times(self, other: "Polynomial") -> "Polynomial":
        """The product of two polynomials, like terms collected."""
        if other.dim != self.dim:
            raise ValueError(
                f"gj.integrands: a product of polynomials in {self.dim} and {other.dim} "
                "dimensions; both must take points of the same length."
            )
        rows: dict[Exponents, int] = {}
        index = []
        for e in self.exponents:
            for d in other.exponents:
                index.append(rows.setdefault(tuple(a + b for a, b in zip(e, d)), len(rows)))
        products = jnp.outer(self.coefficients, other.coefficients).ravel()
        coefficients = jnp.zeros(len(rows), products.dtype).at[jnp.array(index)].add(products)
        return Polynomial(coefficients=coefficients, exponents=list(rows))


def moments(exponents, mean: Array, cov: Array) -> list:
    """E[x^e] for each row e of exponents, as JAX scalars (mean may be complex)."""
    one = jnp.ones((), jnp.result_type(mean, cov))
    means, covs = list(mean), [list(row) for row in cov]  # sliced once, not per moment
    return monomial_moments(exponents, lambda i, v: means[i] * v, lambda i, k: covs[i][k], one)


class Quadratic(AbstractIntegrand):
    r"""$q(x) = x^\top Q x + b^\top x + c$, with

    $$E[q(x)] = \mathrm{tr}(Q\Sigma) + \mu^\top Q \mu + b^\top \mu + c.$$

    Args:
        Q: shape (n, n) (need not be symmetric).
        b: shape (n,); default zero.
        c: a scalar; default 0.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> q = gj.integrands.Quadratic(Q=jnp.eye(2), b=jnp.array([1.0, 0.0]))
        >>> float(gj.expectation(q, jnp.array([1.0, 2.0]), 0.5 * jnp.eye(2)))   # 1 + 5 + 1
        7.0
    """

    Q: Float[Array, "n n"] = eqx.field(converter=as_float_array)
    b: Float[Array, " n"] | None = eqx.field(default=None, converter=optional_float_array)
    c: Float[Array, ""] = eqx.field(default=0.0, converter=as_float_array)

    def __check_init__(self):
        n = self.Q.shape[0] if self.Q.ndim else 0
        if self.Q.shape != (n, n) or n == 0 or (self.b is not None and jnp.shape(self.b) != (n,)):
            raise ValueError(
                "gj.integrands.Quadratic: Q must have shape (n, n) and b shape (n,), got "
                f"{self.Q.shape} and {jnp.shape(self.b)}."
            )

    @property
    def dim(self) -> int:
        return self.Q.shape[0]

    def _linear(self):
        return jnp.zeros(self.dim, self.Q.dtype) if self.b is None else self.b

    def __call__(self, x):
        return x @ self.Q @ x + self._linear() @ x + self.c

    def expectation(self, mean, cov):
        return jnp.trace(self.Q @ cov) + mean @ self.Q @ mean + self._linear() @ mean + self.c

    polynomial_products = True

    def polynomial_expectation(self, polynomial, mean, cov):
        return self.as_polynomial().polynomial_expectation(polynomial, mean, cov)

    def as_polynomial(self) -> Polynomial:
        n, unit = self.dim, np.eye(self.dim, dtype=int)
        pairs = [(i, j) for i in range(n) for j in range(i, n)]
        exponents = [unit[i] + unit[j] for i, j in pairs] + list(unit) + [np.zeros(n, int)]
        symmetric = self.Q + self.Q.T
        quadratic = jnp.stack([self.Q[i, i] if i == j else symmetric[i, j] for i, j in pairs])
        coefficients = jnp.concatenate([quadratic, self._linear(), jnp.reshape(self.c, (1,))])
        return Polynomial(coefficients=coefficients, exponents=exponents)
