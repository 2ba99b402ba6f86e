"""Plain Monte Carlo: independent standard-normal samples."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._base import AbstractRandomRule, check_positive_int


class MonteCarlo(AbstractRandomRule):
    r"""Monte Carlo with `num_samples` independent draws $\xi_i \sim N(0, I_d)$, weights $1/N$:

    $$E[g(\xi)] \approx \frac1N \sum_{i=1}^N g(\xi_i).$$

    Unbiased, with standard error $\sigma_g / \sqrt N$, which `gj.estimate` reports from the
    sample variance. Sample $i$ is drawn from `jax.random.fold_in(key, i)`, so the value does not
    depend on `batch_size`. Needs `key`.

    Args:
        num_samples: N >= 1 (at least 2 for an error estimate).

    Example:
        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> est = gj.estimate(lambda x: x @ x, jnp.zeros(3), jnp.eye(3),
        ...                   rule=gj.MonteCarlo(num_samples=4096), key=jax.random.key(0))
        >>> bool(abs(est.value - 3.0) < 4 * est.error)
        True
    """

    num_samples: int = eqx.field(static=True)

    def __check_init__(self):
        check_positive_int(self.num_samples, "num_samples", "MonteCarlo")

    def num_nodes(self, dim: int) -> int:
        return self.num_samples

    @property
    def num_replicates(self) -> int:
        return self.num_samples

    def refine(self, dim: int) -> "MonteCarlo":
        return MonteCarlo(num_samples=2 * self.num_samples)

    def node(
        self, index: Int[Array, ""], dim: int, dtype, key: PRNGKeyArray
    ) -> tuple[Float[Array, " dim"], Float[Array, ""]]:
        xi = jax.random.normal(jax.random.fold_in(key, index), (dim,), dtype)
        return xi, jnp.asarray(1.0 / self.num_samples, dtype)
