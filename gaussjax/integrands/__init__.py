r"""Integrands whose Gaussian expectation is known in closed form.

Each is a small pytree, callable on one point x like any f, that also knows
$E[f(x)]$, $x \sim N(\mu, \Sigma)$, as a JAX function of $(\mu, \Sigma)$: `gj.expectation`,
`gj.estimate`, `gj.chain_rule` and the gradient functions use it (`exact=True`, the default),
so the value and every derivative are exact; `exact=False` integrates f by the rule instead.
"""

from ._base import AbstractIntegrand as AbstractIntegrand
from ._combinations import Product as Product
from ._combinations import Scaled as Scaled
from ._combinations import Sum as Sum
from ._exponential import AbstractTilting as AbstractTilting
from ._exponential import ExpLinear as ExpLinear
from ._exponential import ExpQuadratic as ExpQuadratic
from ._polynomial import Polynomial as Polynomial
from ._polynomial import Quadratic as Quadratic
from ._ridge import AbstractRidge as AbstractRidge
from ._ridge import Probit as Probit
from ._ridge import ReLU as ReLU
from ._ridge import SquaredReLU as SquaredReLU
from ._ridge import Step as Step
from ._trigonometric import Cos as Cos
from ._trigonometric import Sin as Sin
