r"""cos and sin of a linear form: the characteristic function, real and imaginary parts.

$E[e^{i(a^\top x + b)}] = e^{i(a^\top\mu + b) - a^\top\Sigma a / 2}$, and with a polynomial p,
$E[p(x) e^{i(a^\top x + b)}] = e^{i(a^\top\mu + b) - a^\top\Sigma a/2}\, E_{N(\mu + i\Sigma a,
\Sigma)}[p(x)]$ (the exponential tilt continued to an imaginary a: the moments of p are
polynomials in the mean, so a complex mean is fine).
"""

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._base import AbstractIntegrand, as_float_array


class _Trigonometric(AbstractIntegrand):
    a: Float[Array, " n"] = eqx.field(converter=as_float_array)
    b: Float[Array, ""] = eqx.field(default=0.0, converter=as_float_array)

    def __check_init__(self):
        if self.a.ndim != 1 or self.a.shape[0] == 0 or self.b.ndim != 0:
            raise ValueError(
                f"gj.integrands.{type(self).__name__}: a must have shape (n,) and b be a "
                f"scalar, got shapes {self.a.shape} and {self.b.shape}."
            )

    @property
    def dim(self) -> int:
        return self.a.shape[0]

    def _characteristic(self, mean, cov):
        """E[exp(i (a^T x + b))], and the complex mean of the tilted Gaussian."""
        shift = cov @ self.a
        phase = (self.a @ mean + self.b) * 1j - 0.5 * self.a @ shift
        return jnp.exp(phase), mean + 1j * shift

    polynomial_products = True

    def _polynomial(self, polynomial, mean, cov):
        value, tilted_mean = self._characteristic(mean, cov)
        return value * polynomial.expectation(tilted_mean, cov)


class Cos(_Trigonometric):
    r"""$f(x) = \cos(a^\top x + b)$, with
    $E[f(x)] = \cos(a^\top\mu + b)\, e^{-a^\top\Sigma a/2}$.

    Args:
        a: shape (n,).
        b: a scalar; default 0.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> f = gj.integrands.Cos(a=jnp.array([1.0, 1.0]))
        >>> round(float(gj.expectation(f, jnp.zeros(2), jnp.eye(2))), 6)   # exp(-1)
        0.367879
    """

    def __call__(self, x):
        return jnp.cos(self.a @ x + self.b)

    def expectation(self, mean, cov):
        return jnp.cos(self.a @ mean + self.b) * jnp.exp(-0.5 * self.a @ cov @ self.a)

    def polynomial_expectation(self, polynomial, mean, cov):
        return jnp.real(self._polynomial(polynomial, mean, cov))


class Sin(_Trigonometric):
    r"""$f(x) = \sin(a^\top x + b)$, with
    $E[f(x)] = \sin(a^\top\mu + b)\, e^{-a^\top\Sigma a/2}$.

    Args:
        a: shape (n,).
        b: a scalar; default 0.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> f = gj.integrands.Sin(a=jnp.array([2.0]), b=jnp.pi / 2)   # cos(2 x)
        >>> round(float(gj.expectation(f, jnp.zeros(1), jnp.eye(1))), 6)   # exp(-2)
        0.135335
    """

    def __call__(self, x):
        return jnp.sin(self.a @ x + self.b)

    def expectation(self, mean, cov):
        return jnp.sin(self.a @ mean + self.b) * jnp.exp(-0.5 * self.a @ cov @ self.a)

    def polynomial_expectation(self, polynomial, mean, cov):
        return jnp.imag(self._polynomial(polynomial, mean, cov))
