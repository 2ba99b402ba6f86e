r"""Exponentials of linear and quadratic forms: closed forms, and exponential tilting.

Both multiply a Gaussian density into another Gaussian's, up to a constant:
$e(x)\, N(x; \mu, \Sigma) = s\, N(x; \mu', \Sigma')$. So $E[e(x) g(x)] = s\, E'[g(x)]$ under
$N(\mu', \Sigma')$ for any g whose expectation is known: the product of e with any closed-form
integrand is closed.
"""

import abc
import numbers

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._base import AbstractIntegrand, as_float_array, optional_float_array


class AbstractTilting(AbstractIntegrand):
    r"""An integrand e with $e(x) N(x; \mu, \Sigma) = s\, N(x; \mu', \Sigma')$."""

    @abc.abstractmethod
    def tilt(self, mean, cov) -> tuple[Float[Array, ""], Float[Array, " n"], Float[Array, "n n"]]:
        r"""$(s, \mu', \Sigma')$: $E[e(x) g(x)] = s\, E_{N(\mu', \Sigma')}[g(x)]$."""

    def expectation(self, mean, cov):
        return self.tilt(mean, cov)[0]

    polynomial_products = True

    def polynomial_expectation(self, polynomial, mean, cov):
        scale, tilted_mean, tilted_cov = self.tilt(mean, cov)
        return scale * polynomial.expectation(tilted_mean, tilted_cov)


class ExpLinear(AbstractTilting):
    r"""$e(x) = \exp(a^\top x + b)$, the moment generating function:

    $$E[e(x)] = \exp(a^\top\mu + b + \tfrac12 a^\top\Sigma a),$$

    and tilting: $E[e(x) g(x)] = E[e(x)]\, E_{N(\mu + \Sigma a, \Sigma)}[g(x)]$.

    Args:
        a: shape (n,).
        b: a scalar; default 0.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> e = gj.integrands.ExpLinear(a=jnp.array([1.0, -1.0]), b=0.5)
        >>> round(float(gj.expectation(e, jnp.zeros(2), jnp.eye(2))), 6)   # exp(0.5 + 1)
        4.481689
    """

    a: Float[Array, " n"] = eqx.field(converter=as_float_array)
    b: Float[Array, ""] = eqx.field(default=0.0, converter=as_float_array)

    def __check_init__(self):
        if self.a.ndim != 1 or self.a.shape[0] == 0 or self.b.ndim != 0:
            raise ValueError(
                "gj.integrands.ExpLinear: a must have shape (n,) and b be a scalar, got shapes "
                f"{self.a.shape} and {self.b.shape}."
            )

    @property
    def dim(self) -> int:
        return self.a.shape[0]

    def __call__(self, x):
        return jnp.exp(self.a @ x + self.b)

    def tilt(self, mean, cov):
        shift = cov @ self.a
        return jnp.exp(self.a @ mean + self.b + 0.5 * self.a @ shift), mean + shift, cov

    def __pow__(self, power: float):
        _check_power(power)
        return ExpLinear(a=power * self.a, b=power * self.b)


class ExpQuadratic(AbstractTilting):
    r"""The saturating cost $e(x) = \exp(-\frac12 (x - m)^\top P (x - m))$, P positive
    semi-definite, with $d = \mu - m$:

    $$E[e(x)] = \det(I + \Sigma P)^{-1/2} \exp\!\big(-\tfrac12 d^\top P (I + \Sigma P)^{-1} d\big)$$

    (neither P nor $\Sigma$ need be invertible). Tilting: $\Sigma' = (I + \Sigma P)^{-1}\Sigma$,
    $\mu' = (I + \Sigma P)^{-1}(\mu + \Sigma P m)$. Its second moment is the expectation of
    `e ** 2`, which is `ExpQuadratic(P=2 P, m=m)`: $\mathrm{Var}[e] = E[e^2] - E[e]^2$.

    Args:
        P: shape (n, n), symmetric positive semi-definite.
        m: the target, shape (n,); default zero.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> e = gj.integrands.ExpQuadratic(P=jnp.eye(1), m=jnp.array([1.0]))
        >>> z = gj.expectation(e, jnp.zeros(1), jnp.eye(1))            # exp(-1/4) / sqrt(2)
        >>> second = gj.expectation(e ** 2, jnp.zeros(1), jnp.eye(1))  # exp(-1/3) / sqrt(3)
        >>> round(float(z), 6), round(float(second), 6)
        (0.550695, 0.41369)
    """

    P: Float[Array, "n n"] = eqx.field(converter=as_float_array)
    m: Float[Array, " n"] | None = eqx.field(default=None, converter=optional_float_array)

    def __check_init__(self):
        n = self.P.shape[0] if self.P.ndim else 0
        if self.P.shape != (n, n) or n == 0 or (self.m is not None and self.m.shape != (n,)):
            raise ValueError(
                "gj.integrands.ExpQuadratic: P must have shape (n, n) and m shape (n,), got "
                f"{self.P.shape} and {None if self.m is None else self.m.shape}."
            )

    @property
    def dim(self) -> int:
        return self.P.shape[0]

    def _target(self):
        return jnp.zeros(self.dim, self.P.dtype) if self.m is None else self.m

    def __call__(self, x):
        d = x - self._target()
        return jnp.exp(-0.5 * d @ self.P @ d)

    def tilt(self, mean, cov):
        m = self._target()
        A = jnp.eye(self.dim, dtype=jnp.result_type(mean, cov, self.P)) + cov @ self.P
        d = mean - m
        _, log_det = jnp.linalg.slogdet(A)
        scale = jnp.exp(-0.5 * log_det - 0.5 * d @ self.P @ jnp.linalg.solve(A, d))
        tilted_mean = jnp.linalg.solve(A, mean + cov @ self.P @ m)
        tilted_cov = jnp.linalg.solve(A, cov)
        return scale, tilted_mean, (tilted_cov + tilted_cov.T) / 2

    def __pow__(self, power: float):
        _check_power(power)
        return ExpQuadratic(P=power * self.P, m=self.m)


def _check_power(power) -> None:
    """e ** t is again an exponential for any t > 0."""
    if not isinstance(power, numbers.Real) or isinstance(power, bool) or not power > 0:
        raise TypeError(f"An exponential's power must be a number > 0, got {power!r}.")
