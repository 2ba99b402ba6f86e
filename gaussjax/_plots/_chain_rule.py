"""`gj.ChainRule.plot`: heat maps of dZ/dK, its parts through the mean and the covariance, and
dmu/dK, one group of panels per leaf of K."""

import math

import jax
import numpy as np

from ._pyplot import pyplot

MAX_ANNOTATED = 36
"""Panels with at most this many cells get their values written in them (annotate=None)."""
MAX_COLUMNS = 6
"""The panels of dmean/dK wrap after this many per row."""


def plot_chain_rule(report, *, labels=None, transpose=False, annotate=None, jacobians=True):
    """The figure behind `gj.ChainRule.plot` (see its docstring)."""
    caller = "gj.ChainRule.plot"
    plt = pyplot(caller)
    batch = np.ndim(report.value)
    if batch > 1:
        raise ValueError(
            f"{caller}: the report holds a batch of shape {np.shape(report.value)}; plot a "
            "report or a batch with one axis (e.g. jax.tree.map(lambda a: a[0], report))."
        )
    size = np.shape(report.value)[0] if batch else None
    if labels is not None and (size is None or len(labels) != size):
        raise ValueError(
            f"{caller}: labels name the members of a batch of reports (one per member); got "
            f"{len(labels)} labels for {'a single report' if size is None else size}."
        )
    if size is not None and labels is None:
        labels = [str(i) for i in range(size)]
    paths, totals = zip(*jax.tree_util.tree_flatten_with_path(report.dZ_dK)[0], strict=True)
    leaves = zip(
        paths,
        totals,
        jax.tree.leaves(report.dZ_dK_through_mean),
        jax.tree.leaves(report.dZ_dK_through_cov),
        jax.tree.leaves(report.dmean_dK),
        strict=True,
    )
    groups = []
    for path, *arrays in leaves:
        total, mean, cov, jac = (np.asarray(a) for a in arrays)
        name = "K" + jax.tree_util.keystr(path)
        groups.append(_Group(name, (total, mean, cov), jac if jacobians and not size else None,
                             labels, transpose, annotate))  # fmt: skip
    n = np.shape(report.dZ_dmean)[-1]
    columns = max(3, min(n, MAX_COLUMNS)) if jacobians and not size else 3
    heights = [group.height() for group in groups]
    fig = plt.figure(figsize=(2.3 * columns + 1.2, sum(heights)), layout="constrained")
    subfigures = fig.subfigures(len(groups), 1, height_ratios=heights, squeeze=False)[:, 0]
    for subfigure, group in zip(subfigures, groups, strict=True):
        group.draw(subfigure)
    return fig


PARTS = (r"$dZ/dK$ (jax.grad)", "through the mean", "through the covariance")


class _Group:
    """The panels of one leaf of K: the three parts of dZ/dK (one colour scale) and dmu/dK.

    Each part has the leaf's shape (a leading batch axis for a batch of reports). A leaf of two
    or more axes is an image (more axes folded into the second), one per batch member; a vector
    or scalar leaf is a row or a cell, the members of a batch stacked as rows; dmu/dK is a panel
    per output for an image leaf, one matrix (a vector leaf) or bars (a scalar leaf) otherwise.
    """

    def __init__(self, name, parts, jac, labels, transpose, annotate):
        self.name, self.parts, self.jac = name, parts, jac
        self.labels, self.transpose, self.annotate = labels, transpose, annotate
        self.shape = parts[0].shape[1:] if labels is not None else parts[0].shape
        self.n = None if jac is None else jac.shape[0]

    def image(self, a: np.ndarray) -> np.ndarray:
        """A leaf-shaped array as a 2-D image."""
        image = a.reshape(1, -1) if a.ndim < 2 else a.reshape(a.shape[0], -1)
        return image.T if self.transpose and a.ndim >= 2 else image

    def stacked(self) -> bool:
        """One panel per part, the batch members as its rows (vector and scalar leaves)."""
        return self.labels is not None and len(self.shape) < 2

    def height(self) -> float:
        if self.labels is not None and not self.stacked():
            rows, cols = self.image(self.parts[0][0]).shape
            return len(self.labels) * (2.0 * min(max(rows / cols, 0.25), 1.5) + 0.4) + 0.8
        if self.stacked():
            return 0.35 * len(self.labels) + 1.4
        if not self.shape:  # a scalar: bars
            return 2.4 + (2.4 if self.jac is not None else 0.0)
        rows, cols = self.image(self.parts[0]).shape
        height = 2.0 * min(max(rows / cols, 0.25), 2.0) + 1.0
        if self.jac is not None:
            if len(self.shape) == 1:
                height += 0.3 * self.n + 1.4
            else:
                height += (height - 0.2) * math.ceil(self.n / MAX_COLUMNS)
        return height

    def draw(self, subfigure) -> None:
        subfigure.suptitle(
            f"{self.name}, shape {self.shape}: $dZ/dK$ = through $\\mu$ + through $\\Sigma$",
            fontsize=11,
        )
        if self.jac is None:
            parts_figure = subfigure
        else:
            parts_figure, jac_figure = subfigure.subfigures(2, 1, height_ratios=[1, 1.1])
        if not self.shape and self.labels is None:
            self.draw_bars(parts_figure.subplots(), self.parts, PARTS, "$dZ/dK$")
        else:
            self.draw_parts(parts_figure)
        if self.jac is not None:
            self.draw_jacobian(jac_figure)

    def draw_parts(self, figure) -> None:
        limit = _limit(*self.parts)
        if self.stacked():  # one panel per part, a row per member
            axes = figure.subplots(1, 3, squeeze=False)
            for ax, title, part in zip(axes[0], PARTS, self.parts, strict=True):
                image = _show(ax, part.reshape(len(self.labels), -1), limit, "PuOr_r",
                              self.annotate)  # fmt: skip
                ax.set_title(title, fontsize=10)
                ax.set_yticks(range(len(self.labels)), self.labels)
                ax.set_aspect("auto")
        else:
            rows = 1 if self.labels is None else len(self.labels)
            axes = figure.subplots(rows, 3, squeeze=False)
            for col, (title, part) in enumerate(zip(PARTS, self.parts, strict=True)):
                for row in range(rows):
                    ax = axes[row, col]
                    array = part if self.labels is None else part[row]
                    image = _show(ax, self.image(array), limit, "PuOr_r", self.annotate)
                    if row == 0:
                        ax.set_title(title, fontsize=10)
                    if col == 0 and self.labels is not None:
                        ax.set_ylabel(self.labels[row], rotation=0, ha="right", va="center")
            self.label_axes(axes[-1, 0])
        figure.colorbar(image, ax=axes, shrink=0.8, label=f"$dZ/d${self.name}")

    def draw_jacobian(self, figure) -> None:
        jac, n = self.jac, self.n
        title = f"$d\\mu/d${self.name}, shape {jac.shape}"
        if not self.shape:  # a scalar leaf: n bars
            names = [f"$\\partial\\mu_{{{k}}}/\\partial K$" for k in range(n)]
            self.draw_bars(figure.subplots(), jac, names, title)
            return
        limit = _limit(jac)
        if len(self.shape) == 1:  # a vector leaf: the n x m Jacobian as one matrix
            ax = figure.subplots()
            image = _show(ax, jac, limit, "RdBu_r", self.annotate)
            ax.set_aspect("auto")
            ax.set_yticks(range(n), [f"$\\mu_{{{k}}}$" for k in range(n)])
            ax.set_title(f"{title}: a row per output", fontsize=10)
            figure.colorbar(image, ax=ax, shrink=0.8)
            return
        cols = min(n, MAX_COLUMNS)
        axes = figure.subplots(math.ceil(n / cols), cols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.set_axis_off()
                continue
            image = _show(ax, self.image(jac[k]), limit, "RdBu_r", self.annotate)
            ax.set_title(f"$\\partial\\mu_{{{k}}}/\\partial K$", fontsize=10)
        self.label_axes(axes[0, 0])
        figure.colorbar(image, ax=axes, shrink=0.8, label=f"$\\partial\\mu_k/\\partial${self.name}")
        figure.suptitle(f"{title}: a panel per output $\\mu_k$", fontsize=11)

    def label_axes(self, ax) -> None:
        if len(self.shape) >= 2:
            rows, cols = ("j", "i") if self.transpose else ("i", "j")
            if self.labels is None:  # (in a batch, the rows are labelled by the members)
                ax.set_ylabel(f"{rows} ({'column' if self.transpose else 'row'} of K)", fontsize=8)
            ax.set_xlabel(f"{cols} ({'row' if self.transpose else 'column'} of K)", fontsize=8)

    def draw_bars(self, ax, values, names, title) -> None:
        values = [float(v) for v in values]
        ax.barh(range(len(values)), values, color=["C0" if v >= 0 else "C3" for v in values])
        ax.set_yticks(range(len(values)), names)
        ax.invert_yaxis()
        ax.axvline(0, color="grey", lw=0.5)
        for i, v in enumerate(values):
            ax.annotate(f"{v:.3g}", (v, i), xytext=(3 if v >= 0 else -3, 0),
                        textcoords="offset points", ha="left" if v >= 0 else "right",
                        va="center", fontsize=8)  # fmt: skip
        ax.margins(x=0.25)
        ax.set_title(title, fontsize=10)


def _limit(*arrays) -> float:
    limit = max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)
    return limit if limit > 0 else 1.0


def _show(ax, image: np.ndarray, limit: float, cmap: str, annotate):
    shown = ax.imshow(image, cmap=cmap, vmin=-limit, vmax=limit)
    rows, cols = image.shape
    ax.set_xticks(range(cols) if cols <= 12 else [])
    ax.set_yticks(range(rows) if rows <= 12 else [])
    ax.tick_params(labelsize=7, length=0)
    if annotate or (annotate is None and image.size <= MAX_ANNOTATED):
        for (i, j), value in np.ndenumerate(image):
            color = "white" if abs(value) > 0.6 * limit else "black"
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7, color=color)
    return shown
