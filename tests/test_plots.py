"""ChainRule.plot and gj.plot_convergence: the right panels, titles and shapes, saved as PNG."""

import sys

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import gaussjax as gj

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

P, Q = 3, 2
A = jnp.array([[0.6, -0.3, 0.2], [0.1, 0.5, -0.4]])  # q x p
RULE = gj.GaussHermite(order=4)


def f(x):
    return jnp.exp(-0.5 * jnp.sum((x - 0.3) ** 2))


def mean_fn(K):  # n = 3
    AK = A @ K
    return jnp.concatenate([AK @ jnp.ones(Q), jnp.tanh(K[:1, 0])])


def cov_fn(K):
    return 0.2 * jnp.eye(3) + 0.1 * K @ K.T


K0 = jnp.arange(1.0, 1.0 + P * Q).reshape(P, Q) / 6


def pytree_mean_fn(params):
    return mean_fn(params["gain"]) * params["scale"] + jnp.append(params["shift"], 0.0)


def pytree_cov_fn(params):
    return cov_fn(params["gain"])


PARAMS = {"gain": K0, "shift": jnp.array([0.1, -0.2]), "scale": jnp.asarray(1.5)}


@pytest.fixture(scope="module")
def reports():
    @jax.jit
    def all_reports(K, params, Ks):
        one = gj.chain_rule(f, mean_fn, cov_fn, K, rule=RULE)
        tree = gj.chain_rule(f, pytree_mean_fn, pytree_cov_fn, params, rule=RULE)
        batch = jax.vmap(lambda k: gj.chain_rule(f, mean_fn, cov_fn, k, rule=RULE))(Ks)
        return one, tree, batch

    return all_reports(K0, PARAMS, jnp.stack([K0, 2 * K0]))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def panels(fig):
    """The heat maps: (title, image shape) for every axes showing an image."""
    return [(ax.get_title(), ax.images[0].get_array().shape) for ax in fig.axes if ax.images]


def texts(figure):
    """Every text of a figure and its subfigures (suptitles among them)."""
    found = [t.get_text() for t in figure.texts]
    for subfigure in figure.subfigs:
        found += texts(subfigure)
    return found


def test_an_array_K_gives_three_parts_and_a_panel_per_output(reports, tmp_path):
    report = reports[0]
    fig = report.plot()
    assert panels(fig) == [
        ("$dZ/dK$ (jax.grad)", (P, Q)),
        ("through the mean", (P, Q)),
        ("through the covariance", (P, Q)),
    ] + [(f"$\\partial\\mu_{{{k}}}/\\partial K$", (P, Q)) for k in range(3)]
    images = [ax.images[0] for ax in fig.axes if ax.images]
    # one colour scale for the three parts of dZ/dK, symmetric, and another for dmu/dK
    limit = float(jnp.max(jnp.abs(jnp.stack([report.dZ_dK, report.dZ_dK_through_mean,
                                             report.dZ_dK_through_cov]))))  # fmt: skip
    assert all(im.get_clim() == pytest.approx((-limit, limit)) for im in images[:3])
    limit = float(jnp.max(jnp.abs(report.dmean_dK)))
    assert all(im.get_clim() == pytest.approx((-limit, limit)) for im in images[3:])
    np.testing.assert_allclose(images[2].get_array(), report.dZ_dK_through_cov)
    np.testing.assert_allclose(images[3].get_array(), report.dmean_dK[0])
    assert any("K, shape (3, 2)" in text for text in texts(fig))
    path = tmp_path / "chain_rule.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_transpose_draws_K_transposed(reports):
    fig = reports[0].plot(transpose=True, jacobians=False)
    assert [shape for _, shape in panels(fig)] == [(Q, P)] * 3


def test_a_pytree_K_gives_a_group_per_leaf(reports, tmp_path):
    fig = reports[1].plot()
    suptitles = texts(fig)
    for name in ("K['gain'], shape (3, 2)", "K['scale'], shape ()", "K['shift'], shape (2,)"):
        assert any(text.startswith(name) for text in suptitles), (name, suptitles)
    shapes = [shape for _, shape in panels(fig)]
    # gain: three (p, q) parts and three (p, q) outputs; shift: three rows (1, 2) and one (3, 2)
    # Jacobian; scale: bars, no images
    assert shapes == [(P, Q)] * 6 + [(1, 2)] * 3 + [(3, 2)]
    bars = [ax for ax in fig.axes if not ax.images and len(ax.patches) > 0]
    assert [len(ax.patches) for ax in bars] == [3, 3]  # the three parts, then three outputs
    values = [patch.get_width() for patch in bars[0].patches]
    np.testing.assert_allclose(values, [reports[1].dZ_dK["scale"],
                                        reports[1].dZ_dK_through_mean["scale"],
                                        reports[1].dZ_dK_through_cov["scale"]])  # fmt: skip
    fig.savefig(tmp_path / "pytree.png")


def test_a_batch_of_reports_gives_a_row_per_member(reports):
    fig = reports[2].plot(labels=["K0", "2 K0"])
    assert [shape for _, shape in panels(fig)] == [(P, Q)] * 6  # 2 rows x 3 parts, no dmu/dK
    ylabels = [ax.get_ylabel() for ax in fig.axes if ax.images]
    assert ylabels[::3] == ["K0", "2 K0"]  # the first panel of each row


def test_plotting_errors_name_the_method(reports):
    with pytest.raises(ValueError, match="gj.ChainRule.plot: labels name the members"):
        reports[0].plot(labels=["a"])
    two_axes = jax.tree.map(lambda a: jnp.stack([a, a]), reports[2])
    with pytest.raises(ValueError, match=r"gj.ChainRule.plot: .* batch of shape \(2, 2\)"):
        two_axes.plot()


RULES = [gj.GaussHermite(order=m) for m in (1, 2, 4)] + [
    gj.Cubature(degree=3),
    gj.MonteCarlo(num_samples=64),
]


def test_plot_convergence_draws_value_and_error_per_output(key, tmp_path):
    def two(x):
        return jnp.stack([jnp.cos(x).sum(), x @ x])

    mean = jnp.array([0.2, -0.1])
    exact = jnp.array([jnp.exp(-0.5) * jnp.cos(mean).sum(), 2 + mean @ mean])
    fig = gj.plot_convergence(
        two, mean, jnp.eye(2), rules=RULES, reference=exact, names=["cos", "square"], key=key
    )
    assert [ax.get_title() for ax in fig.axes] == [
        "cos: value", "square: value", "cos: error", "square: error",
    ]  # fmt: skip
    value_axes, error_axes = fig.axes[:2], fig.axes[2:]
    # GaussHermite (the first family drawn): orders 1, 2, 4 have 1, 4, 16 nodes
    gh = value_axes[0].containers[0].lines[0]
    assert list(gh.get_xdata()) == [1, 4, 16]
    assert gh.get_ydata()[-1] == pytest.approx(float(exact[0]), rel=1e-3)  # order 4: close
    assert error_axes[0].get_xscale() == error_axes[0].get_yscale() == "log"
    hollow = [line for line in error_axes[1].lines if line.get_markerfacecolor() == "none"]
    assert hollow, "the true errors are drawn where a reference is given"
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert {"GaussHermite", "Cubature3", "MonteCarlo", "error estimate"} <= set(legend)
    fig.savefig(tmp_path / "convergence.png")


def test_plot_convergence_checks_its_arguments():
    with pytest.raises(ValueError, match="gj.plot_convergence: MonteCarlo is a random rule"):
        gj.plot_convergence(jnp.sum, jnp.zeros(2), jnp.eye(2), rules=RULES)
    with pytest.raises(ValueError, match="gj.plot_convergence: rules must name at least one"):
        gj.plot_convergence(jnp.sum, jnp.zeros(2), jnp.eye(2), rules=[])
    with pytest.raises(ValueError, match="gj.plot_convergence: reference must be shaped"):
        gj.plot_convergence(jnp.sum, jnp.zeros(2), jnp.eye(2), rules=RULES[:2], reference=[1, 2])


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch, reports):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"gaussjax\[plots\]"):
        reports[0].plot()
