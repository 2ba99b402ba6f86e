r"""Sums, scalar multiples and products of integrands, closed where their parts are."""

import equinox as eqx
from jaxtyping import Array, Float

from ._base import AbstractIntegrand, as_float_array, is_scalar
from ._exponential import AbstractTilting


class Sum(AbstractIntegrand):
    r"""$f = \sum_j f_j$, with $E[f] = \sum_j E[f_j]$. Written `f + g` (and `f - g`).

    Args:
        parts: a tuple of integrands taking points of the same length.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> f = gj.integrands.Cos(a=jnp.ones(1)) + gj.integrands.Sin(a=jnp.ones(1))
        >>> round(float(gj.expectation(f, jnp.zeros(1), jnp.eye(1))), 6)    # exp(-1/2) + 0
        0.606531
    """

    parts: tuple[AbstractIntegrand, ...]

    def __check_init__(self):
        _check_parts("Sum", self.parts)

    @property
    def dim(self) -> int:
        return self.parts[0].dim

    def __call__(self, x):
        return sum(part(x) for part in self.parts)

    def expectation(self, mean, cov):
        return sum(part.expectation(mean, cov) for part in self.parts)

    @property
    def polynomial_products(self) -> bool:
        return all(part.polynomial_products for part in self.parts)

    def polynomial_expectation(self, polynomial, mean, cov):
        return sum(part.polynomial_expectation(polynomial, mean, cov) for part in self.parts)


class Scaled(AbstractIntegrand):
    r"""$f = c\, g$ for a scalar c, with $E[f] = c\, E[g]$. Written `c * g` (or `g / c`).

    Args:
        scale: c, a scalar (a traceable leaf).
        integrand: g.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> f = 3.0 * gj.integrands.ExpLinear(a=jnp.ones(1))
        >>> round(float(gj.expectation(f, jnp.zeros(1), jnp.eye(1))), 6)   # 3 exp(1/2)
        4.946164
    """

    scale: Float[Array, ""] = eqx.field(converter=as_float_array)
    integrand: AbstractIntegrand

    def __check_init__(self):
        if self.scale.ndim != 0 or not isinstance(self.integrand, AbstractIntegrand):
            raise TypeError(
                "gj.integrands.Scaled: scale must be a scalar and integrand a "
                f"gj.integrands integrand, got {self.scale!r} and {type(self.integrand).__name__}."
            )

    @property
    def dim(self) -> int:
        return self.integrand.dim

    def __call__(self, x):
        return self.scale * self.integrand(x)

    def expectation(self, mean, cov):
        return self.scale * self.integrand.expectation(mean, cov)

    @property
    def polynomial_products(self) -> bool:
        return self.integrand.polynomial_products

    def polynomial_expectation(self, polynomial, mean, cov):
        return self.scale * self.integrand.polynomial_expectation(polynomial, mean, cov)


class Product(AbstractIntegrand):
    r"""$f = g\, h$, where the product has a closed form. Written `g * h`. Closed when

    - one factor is `ExpLinear` or `ExpQuadratic` (exponential tilting: the other factor may be
      any closed-form integrand), or
    - one factor is a polynomial (`Polynomial`, `Quadratic`) and the other has a closed form for
      its product with polynomials: polynomials, `ExpLinear`, `ExpQuadratic`, `Cos`, `Sin`,
      `Probit`, `ReLU`, `SquaredReLU`, `Step`, and sums, multiples and products of these.

    Other products (`Cos * Probit`, say) raise a TypeError when built.

    Args:
        left, right: the two factors, integrands taking points of the same length.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> x0 = gj.integrands.Polynomial(coefficients=[1.0], exponents=[[1]])
        >>> f = x0 * gj.integrands.Probit(w=jnp.ones(1))          # E[x Phi(x)] = phi(0) / sqrt 2
        >>> round(float(gj.expectation(f, jnp.zeros(1), jnp.eye(1))), 6)
        0.282095
    """

    left: AbstractIntegrand
    right: AbstractIntegrand

    def __check_init__(self):
        _check_parts("Product", (self.left, self.right))
        if (
            _tilting_first(self.left, self.right) is None
            and _polynomial_first(self.left, self.right) is None
        ):
            raise TypeError(
                f"gj.integrands: no closed form is known for {type(self.left).__name__} * "
                f"{type(self.right).__name__}. Integrate the product numerically: pass "
                "lambda x: g(x) * h(x) as f to gj.expectation."
            )

    @property
    def dim(self) -> int:
        return self.left.dim

    def __call__(self, x):
        return self.left(x) * self.right(x)

    def expectation(self, mean, cov):
        tilted = _tilting_first(self.left, self.right)
        if tilted is not None:
            tilting, other = tilted
            scale, tilted_mean, tilted_cov = tilting.tilt(mean, cov)
            return scale * other.expectation(tilted_mean, tilted_cov)
        polynomial, other = _polynomial_first(self.left, self.right)
        return other.polynomial_expectation(polynomial, mean, cov)

    @property
    def polynomial_products(self) -> bool:
        tilted = _tilting_first(self.left, self.right)
        if tilted is not None:
            return tilted[1].polynomial_products
        return True  # p * (q * g) = (p q) * g, and g multiplies polynomials

    def polynomial_expectation(self, polynomial, mean, cov):
        tilted = _tilting_first(self.left, self.right)
        if tilted is not None:  # E[p e g] = s E'[p g]
            return Product(tilted[0], multiply(polynomial, tilted[1])).expectation(mean, cov)
        inner, other = _polynomial_first(self.left, self.right)
        return other.polynomial_expectation(polynomial.times(inner), mean, cov)


def _tilting_first(a, b):
    for first, second in ((a, b), (b, a)):
        if isinstance(first, AbstractTilting):
            return first, second
    return None


def _polynomial_first(a, b):
    for first, second in ((a, b), (b, a)):
        polynomial = first.as_polynomial()
        if polynomial is not None and second.polynomial_products:
            return polynomial, second
    return None


def _check_parts(name: str, parts) -> None:
    if not parts or not all(isinstance(p, AbstractIntegrand) for p in parts):
        raise TypeError(f"gj.integrands.{name}: every part must be a gj.integrands integrand.")
    dims = {p.dim for p in parts}
    if len(dims) != 1:
        raise ValueError(
            f"gj.integrands.{name}: the parts take points of different lengths {sorted(dims)}."
        )


def add(a: AbstractIntegrand, b) -> AbstractIntegrand:
    """a + b, sums flattened."""
    if not isinstance(b, AbstractIntegrand):
        raise TypeError(
            f"An integrand adds to another integrand only, got {type(b).__name__}; for a "
            "constant c use gj.integrands.Polynomial(coefficients=[c], exponents=[[0] * n])."
        )

    def parts(f):
        return f.parts if isinstance(f, Sum) else (f,)

    return Sum(parts=parts(a) + parts(b))


def multiply(a: AbstractIntegrand, b) -> AbstractIntegrand:
    """a * b: scalars pulled out, sums distributed, polynomials multiplied, else a Product."""
    if is_scalar(b):
        if isinstance(a, Scaled):
            return Scaled(scale=a.scale * as_float_array(b), integrand=a.integrand)
        return Scaled(scale=b, integrand=a)
    if not isinstance(b, AbstractIntegrand):
        return NotImplemented
    for first, second in ((a, b), (b, a)):
        if isinstance(first, Scaled):
            return Scaled(scale=first.scale, integrand=multiply(first.integrand, second))
        if isinstance(first, Sum):
            return Sum(parts=tuple(multiply(part, second) for part in first.parts))
    p, q = a.as_polynomial(), b.as_polynomial()
    if p is not None and q is not None:
        return p.times(q)
    return Product(left=a, right=b)
