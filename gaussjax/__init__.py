r"""gaussjax: expectations under a Gaussian, E[f(x)] with x ~ N(mu, Sigma), and their exact
derivatives with respect to whatever mu and Sigma are computed from."""

from . import integrands as integrands
from ._chain_rule import ChainRule as ChainRule
from ._chain_rule import chain_rule as chain_rule
from ._default_rule import default_rule as default_rule
from ._errors import Estimate as Estimate
from ._estimators import AbstractEstimator as AbstractEstimator
from ._estimators import Pathwise as Pathwise
from ._estimators import Score as Score
from ._expectation import estimate as estimate
from ._expectation import expectation as expectation
from ._expectation import log_expectation as log_expectation
from ._gradients import estimate_grad as estimate_grad
from ._gradients import mean_cov_grads as mean_cov_grads
from ._laplace import Laplace as Laplace
from ._plots import plot_convergence as plot_convergence
from ._problem import Problem as Problem
from ._progress import AbstractProgress as AbstractProgress
from ._progress import ProgressTask as ProgressTask
from ._progress import TqdmProgress as TqdmProgress
from ._rules import AbstractDeterministicRule as AbstractDeterministicRule
from ._rules import AbstractRandomRule as AbstractRandomRule
from ._rules import AbstractRule as AbstractRule
from ._rules import Cubature as Cubature
from ._rules import GaussHermite as GaussHermite
from ._rules import MonteCarlo as MonteCarlo
from ._rules import QuasiMonteCarlo as QuasiMonteCarlo
from ._rules import SparseGrid as SparseGrid
from ._rules import Unscented as Unscented

__version__ = "0.1.0"
