r"""`python -m gaussjax`: the worked example from the question that started the project.

    mu(K) = [A K v; (A K)^2 v; (A K)^3 v],   Sigma(K) = Sigma0 + (B K)(B K)^T,
    Z(K) = E[f(x)], x ~ N(mu(K), Sigma(K)),  f(x) = exp(-1/2 (x - m)^T P (x - m)),

with K of shape (p, q), A (q, p), v (q,), B (n, p) and n = 3q. The saturating cost f has the
closed form Z = det(I + Sigma P)^(-1/2) exp(-1/2 d^T (Sigma + P^-1)^-1 d), d = mu - m, which
checks the quadrature; central finite differences check the gradient. Then K is optimised
with optax (adam), and the objective is plotted against the closed form.
"""

import argparse
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

import gaussjax as gj
from gaussjax._example import question_functions, question_matrices

P_DIM, Q_DIM = 3, 2
N_DIM = 3 * Q_DIM
RULE = gj.GaussHermite(order=8)
REGULARISATION = 1e-3


def central_differences(fun, K, step=1e-5):
    grad = np.zeros(K.shape)
    for index in np.ndindex(K.shape):
        bump = jnp.zeros(K.shape).at[index].set(step)
        grad[index] = (fun(K + bump) - fun(K - bump)) / (2 * step)
    return jnp.asarray(grad)


def relative_error(estimate, reference):
    return float(jnp.linalg.norm(estimate - reference) / jnp.linalg.norm(reference))


def main(plot_path: str, steps: int) -> None:
    jax.config.update("jax_enable_x64", True)
    start = time.perf_counter()
    matrices = question_matrices(q=Q_DIM, p=P_DIM)
    mean_fn, cov_fn, f, closed_form = question_functions(matrices)
    K = jnp.asarray(matrices["K0"])

    def z_quadrature(K):
        return gj.expectation(f, mean_fn(K), cov_fn(K), rule=RULE)

    def z_exact(K):
        return closed_form(mean_fn(K), cov_fn(K))

    report = gj.chain_rule(f, mean_fn, cov_fn, K, rule=RULE)
    np.set_printoptions(precision=5, suppress=True, linewidth=100)
    print(f"n = {N_DIM} (mean dimension), K is p x q = {P_DIM} x {Q_DIM}")
    print(f"rule: {RULE}, {RULE.num_nodes(N_DIM)} nodes, exact to degree {RULE.degree}")
    print(f"Z = {float(report.value):.12f}")
    print(f"dZ/dmu  (n,) =\n{np.asarray(report.dZ_dmean)}")
    print(f"dZ/dSigma (n, n), symmetric, = 1/2 E[hess f] =\n{np.asarray(report.dZ_dcov)}")
    print(f"dmu/dK shape    {report.dmean_dK.shape}   (n, p, q)")
    print(f"dSigma/dK shape {report.dcov_dK.shape}   (n, n, p, q)")
    print(f"dZ/dK (p, q) =\n{np.asarray(report.dZ_dK)}")

    exact_value, exact_grad = jax.value_and_grad(z_exact)(K)
    fd_grad = central_differences(jax.jit(z_quadrature), K)
    contraction_error = relative_error(report.contraction, report.dZ_dK)
    print("relative errors:")
    print(f"  Z     vs closed form:          {abs(report.value - exact_value) / exact_value:.2e}")
    print(f"  dZ/dK vs closed form:          {relative_error(report.dZ_dK, exact_grad):.2e}")
    print(f"  dZ/dK vs central differences:  {relative_error(report.dZ_dK, fd_grad):.2e}")
    print(f"  chain-rule contraction vs jax.grad: {contraction_error:.2e}")

    optimise(K, z_quadrature, z_exact, plot_path, steps)
    print(f"total time {time.perf_counter() - start:.1f} s")


def optimise(K, z_quadrature, z_exact, plot_path, steps):
    import optax

    def objective(K, z):
        return 1.0 - z(K) + REGULARISATION * jnp.sum(K**2)

    optimiser = optax.adam(0.05)

    @jax.jit
    def step(K, state):
        value, grad = jax.value_and_grad(objective)(K, z_quadrature)
        updates, state = optimiser.update(grad, state, K)
        return optax.apply_updates(K, updates), state, value, objective(K, z_exact)

    state = optimiser.init(K)
    history = []
    print(f"optimising K with optax.adam for {steps} jit-compiled steps:")
    for i in range(steps):
        K, state, value, exact = step(K, state)
        history.append((float(value), float(exact)))
        if i % (steps // 6) == 0 or i == steps - 1:
            print(f"  step {i:4d}  objective {value:.8f}  closed form {exact:.8f}")
    quadrature, exact = np.array(history).T
    print(
        f"objective {quadrature[0]:.6f} -> {quadrature[-1]:.6f}; largest |quadrature - closed "
        f"form| over the run {np.max(np.abs(quadrature - exact)):.2e}"
    )
    save_plot(quadrature, exact, plot_path)


def save_plot(quadrature, exact, plot_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(quadrature, label=f"gaussjax, {RULE}", lw=2)
    ax.plot(exact, "--", label="closed form", lw=1.5)
    ax.set_xlabel("adam step")
    ax.set_ylabel(r"$1 - E[f(x)] + \lambda \|K\|^2$")
    ax.set_title("Optimising K through mu(K) and Sigma(K)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(plot_path, dpi=120)
    plt.close(fig)
    print(f"plot saved to {plot_path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m gaussjax", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--plot",
        default=os.path.join(tempfile.gettempdir(), "gaussjax_demo.png"),
        help="where to save the PNG of the objective (default: in the temp directory)",
    )
    parser.add_argument("--steps", type=int, default=300, help="adam steps (default 300)")
    arguments = parser.parse_args()
    main(arguments.plot, arguments.steps)
