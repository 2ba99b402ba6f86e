"""How derivatives flow back through a rule: one estimator class per file."""

from ._base import AbstractEstimator as AbstractEstimator
from ._pathwise import Pathwise as Pathwise
from ._score import Score as Score

ESTIMATORS = {"pathwise": Pathwise, "score": Score}
"""The names `estimator=` accepts as strings; any `AbstractEstimator` is accepted as itself."""


def resolve_estimator(estimator, caller: str) -> AbstractEstimator:
    """ "pathwise" / "score" / an estimator object -> the estimator object, or a clear error."""
    if isinstance(estimator, AbstractEstimator):
        return estimator
    if isinstance(estimator, str) and estimator in ESTIMATORS:
        return ESTIMATORS[estimator]()
    raise ValueError(
        f"{caller}: estimator must be one of {', '.join(map(repr, ESTIMATORS))} or a "
        f"gj.AbstractEstimator such as gj.Pathwise() / gj.Score(baseline=...), got {estimator!r}."
    )
