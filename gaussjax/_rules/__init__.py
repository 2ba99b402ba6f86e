from ._base import AbstractDeterministicRule as AbstractDeterministicRule
from ._base import AbstractRule as AbstractRule
from ._gauss_hermite import GaussHermite as GaussHermite
from ._monte_carlo import MonteCarlo as MonteCarlo
