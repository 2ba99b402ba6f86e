"""A probit ridge in the question's n = 6: tensor grids in 6 dimensions against the projection.

    python benchmarks/ridge.py

f(x) = Phi(w^T x + b) depends on x only through y = w^T x, so E[f] is a one-dimensional integral.
Prints the relative error of dZ/dK (Frobenius norm) against the closed form
(gj.integrands.Probit), for Gauss-Hermite grids in 6 dimensions, in one dimension with
projection=w (f then a function of y = w^T x), and for the plain call (no rule), which finds
the projection in f's program and runs gj.default_rule(1) in one dimension.
"""

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
from jax.scipy.stats import norm

sys.path.insert(0, str(Path(__file__).parent))
from problem import matrices  # noqa: E402

import gaussjax as gj  # noqa: E402
from gaussjax._example import question_functions  # noqa: E402

jax.config.update("jax_enable_x64", True)

W = 2.7 * jnp.linspace(1.0, -0.5, 6)  # w^T Sigma(K0) w = 1.0: t = w^T x + b has sd 1
B = 0.3


def f(x):
    return norm.cdf(W @ x + B)


def g(y):  # the same f as a function of y = w^T x
    return norm.cdf(y[0] + B)


def main():
    c = matrices(q=2, p=3)
    mean_fn, cov_fn, _, _ = question_functions(c)
    K = jnp.asarray(c["K0"])
    probit = gj.integrands.Probit(w=W, b=B)
    exact = jax.grad(lambda K: gj.expectation(probit, mean_fn(K), cov_fn(K)))(K)

    def error(integrand, **options):
        z = lambda K: gj.expectation(integrand, mean_fn(K), cov_fn(K), **options)  # noqa: E731
        grad = jax.jit(jax.grad(z))
        grad(K).block_until_ready()
        start = time.perf_counter()
        got = grad(K).block_until_ready()
        seconds = time.perf_counter() - start
        return float(jnp.linalg.norm(got - exact) / jnp.linalg.norm(exact)), seconds

    sd = float(jnp.sqrt(W @ cov_fn(K) @ W))
    print(f"n = 6, sd(w^T x) = {sd:.2f}, float64, {jax.devices()[0].platform}\n")
    print("| rule | runs in | nodes | dZ/dK relative error | time (s) |")
    print("|---|---|---|---|---|")
    for order in (2, 3, 4, 5, 6):
        rule = gj.GaussHermite(order=order)
        err, seconds = error(f, rule=rule)
        print(f"| {rule} | 6 dims | {rule.num_nodes(6):,} | {err:.1e} | {seconds:.4f} |")
    for order in (5, 10, 15, 20, 32):
        rule = gj.GaussHermite(order=order)
        err, seconds = error(g, rule=rule, projection=W[:, None])
        print(f"| {rule}, projection=w | 1 dim | {order} | {err:.1e} | {seconds:.4f} |")
    err, seconds = error(f)
    rule = gj.default_rule(1)
    print(
        f"| none given: {rule} | 1 dim (found) | {rule.num_nodes(1)} | {err:.1e} | {seconds:.4f} |"
    )
    dim = gj.estimate(f, mean_fn(K), cov_fn(K)).dim
    print(f"\ngj.estimate(f, mean, cov).dim = {dim}")
    kink()


def kink():
    """Why a kinked f is not projected automatically: max(w^T x, 0) at n = 3."""
    n = 3
    w, mean = jnp.linspace(0.6, -0.4, n), jnp.linspace(0.2, -0.1, n)
    cov = 0.5 * jnp.eye(n) + 0.1
    exact = jax.grad(lambda m: gj.expectation(gj.integrands.ReLU(w=w), m, cov))(mean)
    print("\nReLU max(w^T x, 0), n = 3, dZ/dmu against the closed form, default rules:\n")
    print("| rule | runs in | nodes | dZ/dmu relative error |")
    print("|---|---|---|---|")
    for f, projection, rule in [
        (lambda x: jnp.maximum(w @ x, 0.0), None, gj.default_rule(n)),
        (lambda y: jnp.maximum(y[0], 0.0), w[:, None], gj.default_rule(1)),
    ]:
        z = lambda m: gj.expectation(f, m, cov, rule=rule, projection=projection)  # noqa: B023, E731
        got = jax.jit(jax.grad(z))(mean)
        err = float(jnp.linalg.norm(got - exact) / jnp.linalg.norm(exact))
        dims = n if projection is None else 1
        where = f"{dims} dim" + ("s" if dims > 1 else "")
        print(f"| {rule} | {where} | {rule.num_nodes(dims):,} | {err:.1e} |")


if __name__ == "__main__":
    main()
