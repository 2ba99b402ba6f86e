"""The question's parameterisation, in JAX and in PyTorch, with a closed-form oracle.

mu(K) = [A K v; (A K)^2 v; (A K)^3 v],  Sigma(K) = Sigma0 + (B K)(B K)^T,
f(x) = exp(-1/2 (x - m)^T P (x - m)),
E[f] = det(I + Sigma P)^(-1/2) exp(-1/2 d^T (Sigma + P^-1)^-1 d), d = mu - m.
"""

from gaussjax._example import question_functions, question_matrices

matrices = question_matrices


def jax_functions(c: dict):
    """mean_fn, cov_fn, f and the closed form as a function of K."""
    mean_fn, cov_fn, f, closed_form = question_functions(c)
    return mean_fn, cov_fn, f, lambda K: closed_form(mean_fn(K), cov_fn(K))


def torch_functions(c: dict):
    import torch

    c = {name: torch.tensor(value, dtype=torch.float64) for name, value in c.items()}

    def mean_fn(K):
        AK = c["A"] @ K
        first = AK @ c["v"]
        second = AK @ first
        return torch.cat([first, second, AK @ second])

    def cov_fn(K):
        BK = c["B"] @ K
        return c["sigma0"] + BK @ BK.T

    def f(x):  # a batch of points, shape (N, n)
        d = x - c["target"]
        return torch.exp(-0.5 * torch.einsum("ni,ij,nj->n", d, c["precision"], d))

    return mean_fn, cov_fn, f
