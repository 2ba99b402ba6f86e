r"""Gaussian moments, written once for any numbers that add and multiply.

`monomial_moments` serves three callers: the closed forms in JAX (means and covariances are
arrays), the ridge products (means are polynomials in one variable) and `gaussjax.symbolic`
(sympy expressions). It uses `+` and `*` only, so it imports no array library.
"""

from collections.abc import Callable, Iterable

import jax.numpy as jnp
from jax.scipy.stats import norm
from jaxtyping import Array, Float

Exponents = tuple[int, ...]


def monomial_moments(
    exponents: Iterable[Exponents],
    times_mean: Callable[[int, object], object],
    cov: Callable[[int, int], object],
    one: object,
) -> list:
    r"""$E[\prod_k x_k^{e_k}]$, $x \sim N(\mu, \Sigma)$, for each exponent tuple e, by Stein's
    identity (Isserlis' theorem for a non-zero mean):

    $$E[x_i\, h(x)] = \mu_i\, E[h(x)] + \sum_k \Sigma_{ik}\, E[\partial_k h(x)],$$

    applied with $h = x^{e - e_i}$ for the first i with $e_i > 0$. Each moment of lower degree
    is computed once and shared between the monomials.

    Args:
        exponents: tuples of n non-negative ints.
        times_mean: (i, value) -> $\mu_i$ * value.
        cov: (i, k) -> $\Sigma_{ik}$.
        one: the value of $E[1]$ (its type decides the type of every moment).

    Returns:
        The moments, one per exponent tuple, in order.
    """
    cache: dict[Exponents, object] = {}

    def moment(e: Exponents):
        if e in cache:
            return cache[e]
        i = next((i for i, ei in enumerate(e) if ei), None)
        if i is None:
            value = one
        else:
            lower = _minus(e, i)
            value = times_mean(i, moment(lower))
            for k, ek in enumerate(lower):
                if ek:
                    value = value + ek * cov(i, k) * moment(_minus(lower, k))
        cache[e] = value
        return value

    return [moment(tuple(int(a) for a in e)) for e in exponents]


def _minus(e: Exponents, i: int) -> Exponents:
    return e[:i] + (e[i] - 1,) + e[i + 1 :]


def tail_moments(a: Float[Array, ""], v: Float[Array, ""], order: int) -> Float[Array, " m"]:
    r"""$T_j = E[\tau^j\, 1\{\tau > a\}]$, $\tau \sim N(0, v)$, for $j = 0, \dots,$ order:

    $$T_0 = \Phi(-a/\sqrt v), \qquad T_j = (j - 1)\, v\, T_{j-2} + \sqrt v\, a^{j-1}
      \varphi(a/\sqrt v)$$

    (Stein's identity again, the step contributing the boundary term at $\tau = a$).
    """
    s = jnp.sqrt(v)
    edge = s * norm.pdf(a / s)
    moments = [norm.cdf(-a / s)]
    for j in range(1, order + 1):
        moments.append(edge * a ** (j - 1) + (j - 1) * v * (moments[j - 2] if j > 1 else 0.0))
    return jnp.stack(moments)
