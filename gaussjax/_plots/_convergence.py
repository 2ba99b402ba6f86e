"""`gj.plot_convergence`: value and error estimate against evaluations of f, rule by rule."""

from collections.abc import Callable, Sequence

import jax
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._errors import estimate_integral
from .._problem import resolve
from .._rules import AbstractRule
from .._rules._base import PyTree
from ._pyplot import pyplot

MARKERS = {
    "GaussHermite": "o-",
    "SparseGrid": "s-",
    "Unscented": "^",
    "Cubature3": "v",
    "Cubature5": "D",
    "MonteCarlo": "x--",
    "QuasiMonteCarlo": "+-",
}


def _family(rule: AbstractRule) -> str:
    name = type(rule).__name__
    return f"{name}{rule.degree}" if name == "Cubature" else name


def plot_convergence(
    f: Callable[[Float[Array, " n"]], PyTree],
    mean: Float[Array, " n"],
    cov: Float[Array, "n n"] | None = None,
    *,
    rules: Sequence[AbstractRule],
    reference=None,
    names: Sequence[str] | None = None,
    scale_tril: Float[Array, "n n"] | None = None,
    cov_factor: Float[Array, "n r"] | None = None,
    cov_diag: Float[Array, " n"] | None = None,
    estimator="pathwise",
    key: PRNGKeyArray | None = None,
    batch_size: int | None = None,
):
    r"""The picture for choosing a rule: value and error estimate of $E[f(x)]$ against the
    number of evaluations of f, for a ladder of rules.

    Each rule is run through `gj.estimate` (all in one compiled call); a column per output of f
    (its leaves, flattened), two rows: the value with the error estimate as an error bar, and
    the error estimate on log-log axes, rules of one family joined by a line. Where the true
    value is known (`reference`, shaped like f(x)), it is drawn as a line in the first row and
    the true error $|Z - Z_{\mathrm{ref}}|$ as hollow markers in the second: where the two
    errors agree, the estimate can be trusted. The evaluations counted are the rule's own
    (`rule.num_nodes(d)`); `gj.estimate` spends a few more on the error estimate (its table).

    Args:
        f: maps one point x of shape (n,) to an array or a pytree of arrays (at most 12
            numbers in all: one column each).
        mean, cov, scale_tril, cov_factor, cov_diag: the Gaussian, as in `gj.expectation`.
        rules: the rules to compare, e.g. `[gj.GaussHermite(order=m) for m in (2, 4, 8)]`.
        reference: the exact value, shaped like f(x), if known.
        names: a title for each output of f.
        estimator, key, batch_size: as in `gj.expectation` (key for random rules).

    Returns:
        The matplotlib figure.

    Raises:
        ValueError, TypeError: as `gj.estimate`, naming gj.plot_convergence; no rules, or more
            than 12 outputs.
        ImportError: matplotlib is not installed (`pip install "gaussjax[plots]"`).

    Example:
        >>> import jax, jax.numpy as jnp, gaussjax as gj
        >>> rules = [gj.GaussHermite(order=m) for m in (2, 3, 4)] + [gj.Cubature(degree=5)]
        >>> fig = gj.plot_convergence(lambda x: jnp.cos(x).sum(), jnp.zeros(2), jnp.eye(2),
        ...                           rules=rules, reference=2 * jnp.exp(-0.5))
        >>> [ax.get_title() for ax in fig.axes]
        ['value', 'error']
        >>> import matplotlib.pyplot as plt; plt.close(fig)
    """
    caller = "gj.plot_convergence"
    if not rules:
        raise ValueError(f"{caller}: rules must name at least one rule, e.g. [gj.Cubature()].")
    covariance = dict(cov=cov, scale_tril=scale_tril, cov_factor=cov_factor, cov_diag=cov_diag)
    options = dict(estimator=estimator, key=key, batch_size=batch_size)
    problems = [resolve(caller, f, mean, covariance, rule=rule, **options) for rule in rules]
    estimates = jax.jit(lambda ps: [estimate_integral(p) for p in ps])(problems)
    values = np.stack([_flat(e.value) for e in estimates])  # (rules, outputs)
    errors = np.stack([_flat(e.error) for e in estimates])
    num_outputs = values.shape[1]
    if num_outputs > 12:
        raise ValueError(
            f"{caller}: f returns {num_outputs} numbers; at most 12 get a column each. Plot a "
            "few of them, e.g. lambda x: f(x)[:3]."
        )
    exact = None if reference is None else _flat(reference)
    if exact is not None and exact.shape != (num_outputs,):
        raise ValueError(
            f"{caller}: reference must be shaped like f(x) ({num_outputs} numbers), got "
            f"{np.shape(reference)}."
        )
    if names is not None and len(names) != num_outputs:
        raise ValueError(f"{caller}: {len(names)} names for {num_outputs} outputs of f.")
    nodes = np.array([p.rule.num_nodes(p.dim) for p in problems])
    plt = pyplot(caller)
    fig, axes = plt.subplots(
        2, num_outputs, figsize=(4.2 * num_outputs + 1.5, 6.4), squeeze=False,
        sharex="col", layout="constrained",
    )  # fmt: skip
    for k in range(num_outputs):
        _draw_output(axes[:, k], rules, nodes, values[:, k], errors[:, k],
                     None if exact is None else exact[k])  # fmt: skip
        if names is not None:
            axes[0, k].set_title(f"{names[k]}: value")
            axes[1, k].set_title(f"{names[k]}: error")
    axes[0, 0].set_ylabel("E[f(x)]")
    axes[1, 0].set_ylabel("error")
    fig.legend(handles=_legend(rules, exact is not None), loc="outside right center", fontsize=8)
    return fig


def _legend(rules, with_reference: bool) -> list:
    from matplotlib.lines import Line2D

    styles = _styles(rules)
    handles = [
        Line2D([], [], color=f"C{i}", marker=styles[family][0], ls=styles[family][1:] or "none",
               label=family)
        for i, family in enumerate(styles) if any(_family(r) == family for r in rules)
    ]  # fmt: skip
    handles.append(Line2D([], [], color="k", marker="o", ls="none", label="error estimate"))
    if with_reference:
        handles.append(Line2D([], [], color="k", marker="o", mfc="none", ls="none",
                              label="true error |Z - reference|"))  # fmt: skip
        handles.append(Line2D([], [], color="grey", ls=":", label="reference"))
    return handles


def _styles(rules) -> dict:
    """Marker and line style per family, in a fixed order (rules of the user's own last)."""
    styles = dict(MARKERS)
    for rule in rules:
        styles.setdefault(_family(rule), "*-")
    return styles


def _flat(tree) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(leaf, float)) for leaf in jax.tree.leaves(tree)])


def _draw_output(axes, rules, nodes, values, errors, exact):
    ax_value, ax_error = axes
    for i, (family, style) in enumerate(_styles(rules).items()):
        members = sorted(
            (j for j, rule in enumerate(rules) if _family(rule) == family), key=lambda j: nodes[j]
        )
        if not members:
            continue
        x, value, error = nodes[members], values[members], errors[members]
        error = np.where(np.isfinite(error), error, np.nan)
        color = f"C{i}"
        ax_value.errorbar(x, value, yerr=np.nan_to_num(error), fmt=style, color=color,
                          capsize=2, ms=5)  # fmt: skip
        ax_error.loglog(x, np.where(error > 0, error, np.nan), style, color=color, ms=5)
        if exact is not None:
            true = np.abs(value - exact)
            ax_error.loglog(x, np.where(true > 0, true, np.nan), style[0], color=color, ms=7,
                            mfc="none")  # fmt: skip
    # the values, not their error bars, set the scale: a coarse rule's bar may be huge
    shown = values if exact is None else np.append(values, exact)
    low, high = float(np.min(shown)), float(np.max(shown))
    pad = 0.15 * (high - low) or 0.05 * max(abs(high), 1e-12)
    ax_value.set_ylim(low - pad, high + pad)
    if exact is not None:
        ax_value.axhline(exact, color="grey", lw=1, ls=":")
    ax_value.set_xscale("log")
    ax_value.set_title("value")
    ax_error.set_title("error")
    ax_error.set_xlabel("evaluations of f")
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
