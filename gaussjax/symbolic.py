r"""Gaussian expectations in closed form, with sympy (`pip install gaussjax[symbolic]`).

For f a polynomial, or a sum of polynomials times exponentials of linear forms, in the symbols
$x = (x_1, \dots, x_n)$, $E[f(x)]$ under $N(\mu, \Sigma)$ is a closed-form expression in the
entries of $\mu$ and $\Sigma$, which may themselves be symbols or expressions in other symbols
(the entries of a matrix K, say). Moments come from Stein's identity (Isserlis' theorem with a
mean), the same code that gives `gj.integrands.Polynomial` its closed form, and exponentials by
tilting: $E[p(x)\, e^{a^\top x + b}] = e^{a^\top\mu + b + a^\top\Sigma a/2}\,
E_{N(\mu + \Sigma a, \Sigma)}[p(x)]$.

Example:
    >>> import sympy, gaussjax.symbolic as gs
    >>> x0, x1, m0, m1, s = sympy.symbols("x0 x1 m0 m1 s")
    >>> mean, cov = sympy.Matrix([m0, m1]), sympy.Matrix([[1, s], [s, 2]])
    >>> gs.expectation(x0**2 * x1, [x0, x1], mean, cov)
    m0**2*m1 + 2*m0*s + m1
"""

from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np
import sympy

from .integrands._moments import monomial_moments

__all__ = ["chain_rule", "expectation", "to_jax"]


def expectation(expr, x: Sequence, mean, cov) -> sympy.Expr:
    r"""$E[f(x)]$, $x \sim N(\mu, \Sigma)$, as a sympy expression.

    Args:
        expr: f, a sympy expression: a polynomial in x, or a sum of polynomials times
            exponentials of linear forms in x (coefficients may be any expressions free of x).
        x: the n symbols $x_1, \dots, x_n$ (a list, or a sympy Matrix of symbols).
        mean: $\mu$, an n x 1 sympy Matrix (or a list of n entries), symbolic or numeric.
        cov: $\Sigma$, an n x n sympy Matrix, symbolic or numeric; its entries are used as given
            ($\Sigma_{ik}$ and $\Sigma_{ki}$ both appear), so pass a symmetric one.

    Returns:
        E[f(x)], expanded where it is a polynomial.

    Raises:
        ValueError: shapes that do not match, or an expr outside the class above (the message
            names the term).

    Example:
        >>> import sympy, gaussjax.symbolic as gs
        >>> x, m, v, a = sympy.symbols("x m v a")
        >>> gs.expectation(x * sympy.exp(a * x), [x], [m], [[v]])
        (a*v + m)*exp(a**2*v/2 + a*m)
    """
    x, mean, cov = _check(x, mean, cov)
    total = sympy.Integer(0)
    for term in sympy.Add.make_args(sympy.expand(sympy.sympify(expr))):
        total += _term_expectation(term, x, mean, cov)
    return total


def chain_rule(expr, x: Sequence, mean, cov, K) -> sympy.Matrix:
    r"""$dZ/dK$ for $Z(K) = E[f(x)]$, $x \sim N(\mu(K), \Sigma(K))$, as a p x q sympy Matrix.

    $[dZ/dK]_{ij} = \partial Z / \partial K_{ij}$ of the closed form `expectation(expr, x, mean,
    cov)`, whose entries are expressions in the symbols of K: the chain rule through $\mu$ and
    $\Sigma$ done by sympy, both sums at once.

    Args:
        expr, x: as in `expectation`.
        mean: $\mu(K)$, an n x 1 sympy Matrix of expressions in the entries of K.
        cov: $\Sigma(K)$, an n x n sympy Matrix of expressions in the entries of K.
        K: a p x q sympy Matrix of symbols.

    Returns:
        dZ/dK, a p x q sympy Matrix, expanded where it is a polynomial.

    Example:
        >>> import sympy, gaussjax.symbolic as gs
        >>> x, k = sympy.symbols("x k")
        >>> K = sympy.Matrix([[k]])
        >>> gs.chain_rule(x**2, [x], [2 * k], [[k**2]], K)    # Z = 4 k^2 + k^2
        Matrix([[10*k]])
    """
    K = sympy.Matrix(K)
    if not all(isinstance(entry, sympy.Symbol) for entry in K):
        raise ValueError(f"gaussjax.symbolic.chain_rule: K must be a Matrix of symbols, got {K}.")
    Z = expectation(expr, x, mean, cov)
    return K.applyfunc(lambda k: _tidy(sympy.diff(Z, k)))


def to_jax(expr, symbols: Sequence) -> Callable:
    """A JAX function of arrays that evaluates `expr` (a sympy expression or Matrix).

    Args:
        expr: a sympy expression, or a sympy Matrix of them.
        symbols: the arguments, in order: each a sympy Symbol (the function takes a scalar), or a
            sympy Matrix or list of Symbols (the function takes an array of that shape; a list
            of n symbols takes shape (n,)).

    Returns:
        A function of one array per entry of `symbols`, returning a scalar, or an array shaped
        like the Matrix `expr`; written in `jax.numpy`, so `jit`, `grad` and `vmap` apply.

    Example:
        >>> import jax.numpy as jnp, sympy, gaussjax.symbolic as gs
        >>> m0, m1 = sympy.symbols("m0 m1")
        >>> f = gs.to_jax(m0**2 + 3 * m1, [[m0, m1]])
        >>> float(f(jnp.array([2.0, 1.0])))
        7.0
    """
    groups = [s if isinstance(s, sympy.Symbol) else _symbol_list(s) for s in symbols]
    flat = [s for g in groups for s in ([g] if isinstance(g, sympy.Symbol) else g)]
    if len(set(flat)) != len(flat):
        raise ValueError("gaussjax.symbolic.to_jax: a symbol appears twice in symbols.")
    is_matrix = isinstance(expr, sympy.MatrixBase)
    body = sympy.lambdify(flat, sympy.Matrix(expr) if is_matrix else expr, modules="jax")
    shape = sympy.Matrix(expr).shape if is_matrix else ()

    def function(*arrays):
        if len(arrays) != len(groups):
            raise TypeError(f"gaussjax.symbolic: this function takes {len(groups)} arrays.")
        values = []
        for group, array in zip(groups, arrays, strict=True):
            array = jnp.asarray(array)
            if isinstance(group, sympy.Symbol):
                values.append(array)
            else:
                values.extend(jnp.reshape(array, -1))
        return jnp.reshape(jnp.asarray(body(*values)), shape)

    return function


def _symbol_list(group) -> list:
    """The symbols of a Matrix or nested list, in row-major order (as jnp.reshape(a, -1))."""
    entries = list(np.asarray(group, dtype=object).ravel())
    if not entries or not all(isinstance(s, sympy.Symbol) for s in entries):
        raise ValueError(f"gaussjax.symbolic.to_jax: symbols must be Symbols, got {group}.")
    return entries


def _check(x, mean, cov) -> tuple[list, sympy.Matrix, sympy.Matrix]:
    x = list(sympy.Matrix(x)) if not isinstance(x, sympy.Symbol) else [x]
    if not x or not all(isinstance(s, sympy.Symbol) for s in x):
        raise ValueError(f"gaussjax.symbolic: x must be a list of n >= 1 symbols, got {x}.")
    n = len(x)
    mean, cov = sympy.Matrix(mean), sympy.Matrix(cov)
    if mean.shape not in ((n, 1), (1, n)) or cov.shape != (n, n):
        raise ValueError(
            f"gaussjax.symbolic: with n = {n} symbols in x, mean must be n x 1 and cov n x n, "
            f"got {mean.shape} and {cov.shape}."
        )
    if any(entry.has(*x) for entry in list(mean) + list(cov)):
        raise ValueError("gaussjax.symbolic: mean and cov must not depend on x.")
    return x, mean.reshape(n, 1), cov


def _term_expectation(term, x: list, mean: sympy.Matrix, cov: sympy.Matrix) -> sympy.Expr:
    """E[p(x) exp(a^T x + b)] for one term of the expanded expression."""
    exponent, rest = sympy.Integer(0), sympy.Integer(1)
    for factor in sympy.Mul.make_args(term):
        if isinstance(factor, sympy.exp):
            exponent += factor.args[0]
        else:
            rest *= factor
    try:
        polynomial = sympy.Poly(rest, *x)
        linear = sympy.Poly(sympy.expand(exponent), *x)
    except sympy.PolynomialError as error:
        raise ValueError(
            f"gaussjax.symbolic: the term {term} is not a polynomial times exp(a linear form) "
            f"in {x} ({error})."
        ) from error
    if linear.total_degree() > 1:
        raise ValueError(
            f"gaussjax.symbolic: exp({exponent}) in the term {term} is not an exponential of a "
            f"linear form in {x}; only polynomials times exp(a^T x + b) have a closed form here."
        )
    a = sympy.Matrix([linear.coeff_monomial(s) for s in x])
    b = linear.coeff_monomial(1)
    scale = sympy.exp((a.T * mean)[0] + b + (a.T * cov * a)[0] / 2)
    tilted = mean + cov * a
    monomials, coefficients = zip(*polynomial.terms(), strict=True)
    moments = monomial_moments(
        monomials, lambda i, v: tilted[i] * v, lambda i, k: cov[i, k], sympy.Integer(1)
    )
    value = sympy.expand(sum(c * m for c, m in zip(coefficients, moments, strict=True)))
    return value if scale == 1 else value * scale


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    """Expanded if a polynomial in its symbols, else factored over the exponentials."""
    return sympy.expand(expr) if expr.is_polynomial() else sympy.factor_terms(expr)
