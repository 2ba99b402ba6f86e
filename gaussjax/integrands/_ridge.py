r"""Ridge functions $f(x) = g(w^\top x + b)$: the probit, ReLU, squared ReLU and step.

Under $x \sim N(\mu, \Sigma)$, $t = w^\top x + b$ is $N(m, v)$ with $m = w^\top\mu + b$,
$v = w^\top\Sigma w$: each ridge knows the one-dimensional moments
$E[\tau^j g(m + \tau)]$, $\tau \sim N(0, v)$, in closed form, which gives $E[f(x)]$ ($j = 0$)
and, for a polynomial p, $E[p(x) f(x)]$: given $\tau$, $x = \mu + \Sigma w\, \tau / v + r$ with
r independent of $\tau$, so $E[p(x) \mid \tau]$ is a polynomial in $\tau$ whose coefficients
are Gaussian moments.
"""

import abc
import math

import equinox as eqx
import jax.numpy as jnp
from jax.scipy.stats import norm
from jaxtyping import Array, Float

from ._base import AbstractIntegrand, as_float_array
from ._moments import monomial_moments, tail_moments


class AbstractRidge(AbstractIntegrand):
    r"""$f(x) = g(w^\top x + \text{offset})$ with known moments $E[\tau^j g(m + \tau)]$."""

    w: eqx.AbstractVar[Float[Array, " n"]]

    @property
    @abc.abstractmethod
    def offset(self) -> Float[Array, ""]:
        """The constant added to $w^\top x$."""

    @abc.abstractmethod
    def profile(self, t: Float[Array, ""]) -> Float[Array, ""]:
        """g(t), the function of one variable."""

    @abc.abstractmethod
    def moments(self, m: Float[Array, ""], v: Float[Array, ""], order: int) -> Float[Array, " j"]:
        r"""$E[\tau^j g(m + \tau)]$ for $j = 0, \dots,$ order, $\tau \sim N(0, v)$."""

    def __check_init__(self):
        if self.w.ndim != 1 or self.w.shape[0] == 0 or jnp.ndim(self.offset) != 0:
            raise ValueError(
                f"gj.integrands.{type(self).__name__}: w must have shape (n,) and the offset be "
                f"a scalar, got shapes {self.w.shape} and {jnp.shape(self.offset)}."
            )

    @property
    def dim(self) -> int:
        return self.w.shape[0]

    def __call__(self, x):
        return self.profile(self.w @ x + self.offset)

    def expectation(self, mean, cov):
        return self.moments(self.w @ mean + self.offset, self.w @ cov @ self.w, 0)[0]

    polynomial_products = True

    def polynomial_expectation(self, polynomial, mean, cov):
        s = cov @ self.w
        v = self.w @ s
        slope, residual = s / v, cov - jnp.outer(s, s) / v
        size = polynomial.degree + 1  # E[p(x) | tau] = sum_j q_j tau^j, j < size

        means, slopes, residuals = list(mean), list(slope), [list(row) for row in residual]

        def times_mean(i, value):  # value holds coefficients of powers of tau
            shifted = jnp.concatenate([jnp.zeros(1, value.dtype), value[:-1]])
            return means[i] * value + slopes[i] * shifted

        one = jnp.zeros(size, jnp.result_type(mean, cov)).at[0].set(1.0)
        monomials = monomial_moments(
            polynomial.exponents, times_mean, lambda i, k: residuals[i][k], one
        )
        q = polynomial.coefficients @ jnp.stack(monomials)
        return q @ self.moments(self.w @ mean + self.offset, v, size - 1)


class Probit(AbstractRidge):
    r"""$f(x) = \Phi(w^\top x + b)$, the standard normal CDF of a linear form:

    $$E[f(x)] = \Phi\Big(\frac{w^\top\mu + b}{\sqrt{1 + w^\top\Sigma w}}\Big).$$

    Args:
        w: shape (n,).
        b: a scalar; default 0.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> f = gj.integrands.Probit(w=jnp.array([1.0, 1.0]), b=1.0)
        >>> round(float(gj.expectation(f, jnp.zeros(2), jnp.eye(2))), 6)   # Phi(1 / sqrt(3))
        0.718149
    """

    w: Float[Array, " n"] = eqx.field(converter=as_float_array)
    b: Float[Array, ""] = eqx.field(default=0.0, converter=as_float_array)

    @property
    def offset(self):
        return self.b

    def profile(self, t):
        return norm.cdf(t)

    def moments(self, m, v, order):
        # Phi(m + tau) = P(u < m + tau), u ~ N(0, 1): with s = tau - u ~ N(0, v + 1),
        # tau = beta s + e, beta = v / (v + 1), e ~ N(0, beta) independent of s.
        beta = v / (v + 1)
        tails = tail_moments(-m, v + 1, order)
        rows = []
        for j in range(order + 1):
            terms = [
                math.comb(j, i) * _normal_moment(j - i) * beta ** ((j - i) / 2) * beta**i * tails[i]
                for i in range(j + 1)
                if (j - i) % 2 == 0
            ]
            rows.append(sum(terms))
        return jnp.stack(rows)


class ReLU(AbstractRidge):
    r"""$f(x) = \max(w^\top x + b, 0)$: with $t = w^\top x + b \sim N(m, v)$, $s = \sqrt v$,

    $$E[f(x)] = m\,\Phi(m/s) + s\,\varphi(m/s).$$

    `ReLU(w, b) ** 2` is `SquaredReLU(w, b)`.

    Args:
        w: shape (n,).
        b: a scalar; default 0.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> f = gj.integrands.ReLU(w=jnp.array([1.0]))
        >>> round(float(gj.expectation(f, jnp.zeros(1), jnp.eye(1))), 6)   # 1 / sqrt(2 pi)
        0.398942
    """

    w: Float[Array, " n"] = eqx.field(converter=as_float_array)
    b: Float[Array, ""] = eqx.field(default=0.0, converter=as_float_array)

    @property
    def offset(self):
        return self.b

    def profile(self, t):
        return jnp.maximum(t, 0.0)

    def moments(self, m, v, order):
        tails = tail_moments(-m, v, order + 1)
        return m * tails[:-1] + tails[1:]

    def __pow__(self, power: int):
        if power == 2:
            return SquaredReLU(w=self.w, b=self.b)
        return super().__pow__(power)


class SquaredReLU(AbstractRidge):
    r"""$f(x) = \max(w^\top x + b, 0)^2$: with $t \sim N(m, v)$, $s = \sqrt v$,

    $$E[f(x)] = (m^2 + v)\,\Phi(m/s) + m s\,\varphi(m/s).$$

    Args:
        w: shape (n,).
        b: a scalar; default 0.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> f = gj.integrands.SquaredReLU(w=jnp.array([1.0]))
        >>> float(gj.expectation(f, jnp.zeros(1), jnp.eye(1)))   # half of E[t^2]
        0.5
    """

    w: Float[Array, " n"] = eqx.field(converter=as_float_array)
    b: Float[Array, ""] = eqx.field(default=0.0, converter=as_float_array)

    @property
    def offset(self):
        return self.b

    def profile(self, t):
        return jnp.maximum(t, 0.0) ** 2

    def moments(self, m, v, order):
        tails = tail_moments(-m, v, order + 2)
        return m**2 * tails[:-2] + 2 * m * tails[1:-1] + tails[2:]


class Step(AbstractRidge):
    r"""$f(x) = 1\{w^\top x > c\}$, the probability of a half-space:

    $$E[f(x)] = \Phi\Big(\frac{w^\top\mu - c}{\sqrt{w^\top\Sigma w}}\Big).$$

    Its closed form is smooth in $\mu$ and $\Sigma$ although f has a jump: `gj.expectation`
    differentiates it exactly. (With `exact=False`, integrate it with `estimator="score"`.)

    Args:
        w: shape (n,).
        c: the threshold, a scalar; default 0.

    Example:
        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> f = gj.integrands.Step(w=jnp.array([1.0, 0.0]), c=0.0)
        >>> grad = jax.grad(lambda m: gj.expectation(f, m, jnp.eye(2)))(jnp.zeros(2))
        >>> [round(float(g), 6) for g in grad]                    # (phi(0), 0)
        [0.398942, 0.0]
    """

    w: Float[Array, " n"] = eqx.field(converter=as_float_array)
    c: Float[Array, ""] = eqx.field(default=0.0, converter=as_float_array)

    @property
    def offset(self):
        return -self.c

    def profile(self, t):
        return (t > 0).astype(t.dtype)

    def moments(self, m, v, order):
        return tail_moments(-m, v, order)


def _normal_moment(k: int) -> int:
    """E[u^k] for u ~ N(0, 1), k even: (k - 1)!!."""
    return math.prod(range(k - 1, 0, -2))
