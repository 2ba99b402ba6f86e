from ._base import AbstractDeterministicRule as AbstractDeterministicRule
from ._base import AbstractRule as AbstractRule
from ._cubature import Cubature as Cubature
from ._gauss_hermite import GaussHermite as GaussHermite
from ._monte_carlo import MonteCarlo as MonteCarlo
from ._quasi_monte_carlo import QuasiMonteCarlo as QuasiMonteCarlo
from ._sparse_grid import SparseGrid as SparseGrid
from ._unscented import Unscented as Unscented
