"""Pictures of the chain rule (`gj.ChainRule.plot`) and of rules converging
(`gj.plot_convergence`). matplotlib is imported only when one is drawn (`gaussjax[plots]`)."""

from ._chain_rule import plot_chain_rule as plot_chain_rule
from ._convergence import plot_convergence as plot_convergence
