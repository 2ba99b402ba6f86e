"""What an integrand with a closed form is: callable on a point, and knowing its expectation."""

import abc
import numbers

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def as_float_array(value) -> Array:
    """An array of a floating dtype (ints and bools become the default float)."""
    array = jnp.asarray(value)
    return array if jnp.issubdtype(array.dtype, jnp.inexact) else array.astype(float)


def optional_float_array(value) -> Array | None:
    """None stays None; anything else becomes a floating array."""
    return None if value is None else as_float_array(value)


def is_scalar(value) -> bool:
    """A number, or an array with no axes: what an integrand may be scaled by."""
    if isinstance(value, numbers.Number):
        return True
    return isinstance(value, (jax.Array, jnp.ndarray)) and jnp.ndim(value) == 0


class AbstractIntegrand(eqx.Module):
    r"""An integrand f that knows $E[f(x)]$, $x \sim N(\mu, \Sigma)$, in closed form.

    It is called on one point x of shape (n,) like any f, and `expectation(mean, cov)` is
    written in JAX, so the value and every derivative of it are exact (to rounding).
    `gj.expectation(f, mean, cov)` uses it (with `exact=True`, the default); `exact=False`
    integrates f by the rule like any other function.

    Integrands combine with `+`, `-`, `*` and scalars: sums and scalar multiples are always
    closed, products where the result is (see `gj.integrands.Product`). A subclass implements
    `__call__`, `expectation` and `dim`, and, if it can, `polynomial_expectation`
    ($E[p(x) f(x)]$ for a polynomial p) with `polynomial_products = True`.

    Example:
        >>> import jax.numpy as jnp, gaussjax as gj
        >>> class Square(gj.integrands.AbstractIntegrand):     # f(x) = x_0^2
        ...     dim = 1
        ...     def __call__(self, x):
        ...         return x[0] ** 2
        ...     def expectation(self, mean, cov):
        ...         return mean[0] ** 2 + cov[0, 0]
        >>> float(gj.expectation(Square(), jnp.array([2.0]), jnp.array([[0.5]])))
        4.5
    """

    polynomial_products = False
    """Whether `polynomial_expectation` is implemented: E[p(x) f(x)] for every polynomial p."""

    __array_ufunc__ = None  # NumPy scalars defer to our operators (2.0 * f is Scaled)

    @abc.abstractmethod
    def __call__(self, x: Float[Array, " n"]) -> Float[Array, ""]:
        """f(x) for one point x of shape (n,)."""

    @abc.abstractmethod
    def expectation(self, mean: Float[Array, " n"], cov: Float[Array, "n n"]) -> Float[Array, ""]:
        r"""$E[f(x)]$ for $x \sim N(\text{mean}, \text{cov})$, in closed form."""

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """n, the length of the points x that f takes."""

    def polynomial_expectation(self, polynomial, mean, cov) -> Float[Array, ""]:
        r"""$E[p(x)\, f(x)]$ for a `gj.integrands.Polynomial` p, where closed."""
        raise TypeError(
            f"{type(self).__name__} has no closed form for its product with a polynomial."
        )

    def as_polynomial(self):
        """This integrand as a `gj.integrands.Polynomial`, or None if it is not a polynomial."""
        return None

    def __add__(self, other):
        from ._combinations import add

        return add(self, other)

    def __radd__(self, other):
        if isinstance(other, numbers.Number) and other == 0:  # sum([f, g]) starts from 0
            return self
        return self.__add__(other)

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other if isinstance(other, AbstractIntegrand) else other)

    def __rsub__(self, other):
        return -self + other

    def __mul__(self, other):
        from ._combinations import multiply

        return multiply(self, other)

    def __rmul__(self, other):
        return self.__mul__(other)

    def __truediv__(self, other):
        if not is_scalar(other):
            return NotImplemented
        return self * (1.0 / as_float_array(other))

    def __pow__(self, power: int):
        if not isinstance(power, int) or isinstance(power, bool) or power < 1:
            raise TypeError(f"An integrand's power must be an int >= 1, got {power!r}.")
        result = self
        for _ in range(power - 1):
            result = result * self
        return result
