"""progress=: a pass over the chunks reaches 100% exactly once, forward and backward, eagerly and
under jit, grad and vmap; off, nothing of it is in the program."""

import io
import sys

import jax
import jax.numpy as jnp
import pytest

import gaussjax as gj

RULE = gj.GaussHermite(order=10)  # 100 nodes in 2-D: batch_size=16 gives 10 chunks of 10 rows
CHUNKS = 10
MEAN, COV = jnp.array([0.3, -0.2]), jnp.array([[1.0, 0.2], [0.2, 0.5]])


def f(x):
    return jnp.sin(x).sum() + x[0] * x[1]


def exact_value(mean):
    """E[f] in closed form: E[sin x_i] = sin(mu_i) exp(-S_ii / 2), E[x0 x1] = mu0 mu1 + S01."""
    damp = jnp.exp(-jnp.diag(COV) / 2)
    return jnp.sum(jnp.sin(mean) * damp) + mean[0] * mean[1] + COV[0, 1]


exact_grad = jax.jit(jax.vmap(jax.grad(exact_value)))


class Record(gj.AbstractProgress):
    """Every call, in order, and checks of the contract as they come."""

    def __init__(self):
        self.calls = []

    def start(self, task):
        self.calls.append(("start", task))

    def update(self, task, done):
        self.calls.append(("update", task, done))

    def close(self, task):
        self.calls.append(("close", task))

    def runs(self, direction):
        """For each run of a pass in `direction`: the list of `done` values it was told."""
        runs, open_runs = [], {}
        for call in self.calls:
            kind, task = call[0], call[1]
            if task.direction != direction:
                continue
            if kind == "start":
                assert task not in open_runs, "started twice without closing"
                open_runs[task] = []
            elif kind == "update":
                open_runs[task].append(call[2])
            else:
                runs.append(open_runs.pop(task))
        assert not open_runs, "a pass was never closed"
        return runs


def z(progress, batch_size=16, estimator="pathwise", rule=RULE, key=None, check_finite=True):
    def expectation(mean, cov=COV):
        return gj.expectation(
            f,
            mean,
            cov,
            rule=rule,
            estimator=estimator,
            key=key,
            batch_size=batch_size,
            progress=progress,
            check_finite=check_finite,
        )

    return expectation


def run(call, *args):
    out = jax.block_until_ready(call(*args))
    jax.effects_barrier()  # the callbacks of the last run have all been made
    return out


def assert_complete(runs, count, total=CHUNKS):
    """`count` runs, each rising to `total` and telling it exactly once."""
    assert len(runs) == count
    for dones in runs:
        assert dones == sorted(set(dones)) and dones[-1] == total
        assert all(1 <= d <= total for d in dones)


def test_a_forward_pass_reaches_100_percent_exactly_once_per_run():
    record = Record()  # (eagerly: the forward pass of test_the_backward_pass_reports_too[grad])
    call = jax.jit(z(record))
    value = run(call, MEAN)
    assert_complete(record.runs("forward"), 1)
    run(call, MEAN + 1.0)  # a compiled program reports every time it runs
    assert_complete(record.runs("forward"), 2)
    assert record.runs("backward") == []
    assert jnp.allclose(value, exact_value(MEAN), rtol=1e-8)
    task = record.calls[0][1]
    assert (task.total, task.direction, str(task)) == (
        CHUNKS,
        "forward",
        "gj.expectation GaussHermite(order=10) forward",
    )


@pytest.mark.parametrize(
    "how",
    ["grad", "jit(grad)", "grad(jit)", "vmap(grad)"],
)
def test_the_backward_pass_reports_too(how):
    record = Record()
    expectation = z(record, check_finite=False)  # unchecked: only the gradient needs computing
    grad = {
        "grad": jax.grad(expectation),
        "jit(grad)": jax.jit(jax.grad(expectation)),
        "grad(jit)": jax.grad(jax.jit(expectation)),
        "vmap(grad)": jax.jit(jax.vmap(jax.grad(expectation))),
    }[how]
    means = jnp.stack([MEAN, 2 * MEAN, -MEAN]) if how == "vmap(grad)" else MEAN
    got = run(grad, means)
    expected = exact_grad(jnp.atleast_2d(means))
    assert jnp.allclose(got, expected.reshape(got.shape), rtol=1e-8)
    assert_complete(record.runs("backward"), 1)  # once per chunk, not once per member of a vmap
    # under jit(grad) only the gradient is computed, so XLA drops the forward sum and its reports
    assert_complete(record.runs("forward"), 0 if how in ("jit(grad)", "vmap(grad)") else 1)


def test_checking_that_f_is_finite_costs_one_forward_pass_under_jit_grad():
    record = Record()
    got = run(jax.jit(jax.grad(z(record))), MEAN)
    assert jnp.allclose(got, exact_grad(MEAN[None])[0], rtol=1e-8)
    assert_complete(record.runs("forward"), 1)  # the values are summed to be checked
    assert_complete(record.runs("backward"), 1)


def test_the_value_and_the_gradient_are_two_passes():
    record = Record()
    value, grad = run(jax.jit(jax.value_and_grad(z(record))), MEAN)
    assert_complete(record.runs("forward"), 1)
    assert_complete(record.runs("backward"), 1)


def test_hessians_compose_with_progress():
    record = Record()
    hessian = run(jax.jit(jax.hessian(z(record))), MEAN)
    expected = jnp.diag(-jnp.sin(MEAN) * jnp.exp(-jnp.diag(COV) / 2)) + jnp.array([[0, 1], [1, 0]])
    assert jnp.allclose(hessian, expected, rtol=1e-7)
    assert_complete(record.runs("backward"), 1)  # (the value itself is not needed)


def test_without_batch_size_the_whole_rule_is_one_chunk():
    record = Record()
    run(jax.jit(jax.value_and_grad(z(record, batch_size=None))), MEAN)
    assert_complete(record.runs("forward"), 1, total=1)
    assert_complete(record.runs("backward"), 1, total=1)


def test_the_score_estimator_reports_its_one_forward_pass():
    record = Record()
    got = run(jax.jit(jax.grad(z(record, estimator="score"))), MEAN)
    assert jnp.allclose(got, exact_grad(MEAN[None])[0], rtol=1e-5)
    assert_complete(record.runs("forward"), 1)  # the moments, in the derivative rule
    assert record.runs("backward") == []  # the backward pass contracts them: no chunks


def test_estimate_makes_one_pass_per_rule_it_evaluates(key):
    record = Record()
    mc = gj.MonteCarlo(num_samples=64)

    @jax.jit
    def both(mean):
        options = dict(batch_size=16, progress=record)
        return (
            gj.estimate(f, mean, COV, rule=RULE, **options),
            gj.estimate(f, mean, COV, rule=mc, key=key, **options),
        )

    run(both, MEAN)
    # the five passes are independent: XLA may start them in any order
    described = sorted(str(call[1]) for call in record.calls if call[0] == "start")
    assert described == [
        "gj.estimate GaussHermite(order=10) forward",
        "gj.estimate GaussHermite(order=9) forward",
        "gj.estimate MonteCarlo(num_samples=64) forward",
        "gj.estimate Rotated(GaussHermite(order=10)) forward",
        "gj.estimate Rotated(GaussHermite(order=10), turn=1) forward",
    ]
    assert len(record.runs("forward")) == 5


def test_chain_rule_and_gradient_entry_points_take_progress():
    record = Record()

    @jax.jit
    def both(K):
        options = dict(rule=RULE, batch_size=16, progress=record, check_finite=False)
        report = gj.chain_rule(f, lambda K: K @ MEAN, lambda K: COV + 0.1 * K @ K.T, K, **options)
        return report, gj.mean_cov_grads(f, MEAN, COV, **options)

    report, _ = run(both, jnp.eye(2))
    assert jnp.allclose(report.contraction, report.dZ_dK, rtol=1e-12)
    # chain_rule differentiates Z twice, and needs its value once; under jit, XLA computes
    # only what is needed: one forward pass, three backward ones (with check_finite=True each
    # gradient also sums f's values to check them: see the test above)
    assert_complete(record.runs("forward"), 1)
    assert_complete(record.runs("backward"), 3)


def test_off_nothing_is_in_the_program():
    def programs(progress):
        plain = str(jax.make_jaxpr(z(progress))(MEAN))
        return plain, str(jax.make_jaxpr(jax.value_and_grad(z(progress)))(MEAN))

    (off, off_grad), (on, on_grad) = programs(False), programs(Record())
    for instrument in ("_tick", "gaussjax_progress_tap", "gaussjax_first", "debug_callback"):
        assert instrument not in off and instrument not in off_grad
    for instrument in ("_tick", "gaussjax_progress_tap", "gaussjax_first"):
        assert instrument in on
    assert "debug_callback" in on_grad  # the backward pass's reports


def test_progress_true_draws_a_tqdm_bar(capsys):
    run(z(True), MEAN)
    assert f"{CHUNKS}/{CHUNKS}" in capsys.readouterr().err
    out = io.StringIO()
    run(jax.grad(z(gj.TqdmProgress(file=out))), MEAN)
    text = out.getvalue()
    assert "gj.expectation GaussHermite(order=10) forward" in text
    assert "gj.expectation GaussHermite(order=10) backward" in text


def test_a_bad_progress_argument_is_a_clear_error():
    with pytest.raises(TypeError, match=r"gj.estimate: progress must be True .* got 'yes'"):
        gj.estimate(f, MEAN, COV, progress="yes")


def test_without_tqdm_progress_true_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(ImportError, match=r"gaussjax\[progress\]"):
        gj.expectation(f, MEAN, COV, progress=True)
