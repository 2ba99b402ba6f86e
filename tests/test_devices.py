"""One expectation spread over several devices gives the one-device result, value and gradient.

The devices are 8 simulated CPU devices in a subprocess (the device count is fixed when JAX
starts), or two processes joined by `jax.distributed` on the loopback address (a multi-host run
in miniature); the one-device results are computed here, in the test process.
"""

import json
import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

MEAN = [0.3, -0.2, 0.1]
COV = [[1.0, 0.2, 0.0], [0.2, 0.5, 0.1], [0.0, 0.1, 0.7]]
RULES = {
    "gauss_hermite": "gj.GaussHermite(order=21)",  # 9,261 nodes: over 8 x 1,024
    "monte_carlo": "gj.MonteCarlo(num_samples=20_000)",
}

SHARED = """
import jax, jax.numpy as jnp
import gaussjax as gj

def f(x):
    return jnp.exp(-0.5 * x @ x) * jnp.sin(x[0] + 1.0)

def value_and_grad(rule):
    def z(mean, cov):
        return gj.expectation(f, mean, cov, rule=rule, key=jax.random.key(1))
    return jax.jit(jax.value_and_grad(z, argnums=(0, 1)))
"""

PROGRAM = """
import json
jax.config.update("jax_enable_x64", True)
mean, cov = jnp.asarray(MEAN), jnp.asarray(COV)
out = {"devices": jax.device_count()}
for name, rule in RULES.items():
    rule = eval(rule)
    program = str(jax.make_jaxpr(value_and_grad(rule))(mean, cov))
    value, (d_mean, d_cov) = value_and_grad(rule)(mean, cov)
    out[name] = {
        "spread": "shard_map" in program,
        "value": float(value), "d_mean": d_mean.tolist(), "d_cov": d_cov.tolist(),
    }
print(json.dumps(out))
"""


def run_program(num_devices: int) -> dict:
    header = f"MEAN = {MEAN!r}\nCOV = {COV!r}\nRULES = {RULES!r}\n" + SHARED
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={num_devices}"
    )
    result = subprocess.run(
        [sys.executable, "-c", header + PROGRAM], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_eight_devices_give_the_one_device_value_and_gradient():
    many = run_program(8)
    assert many["devices"] == 8
    namespace = {"MEAN": MEAN, "COV": COV, "RULES": RULES}
    exec(SHARED, namespace)  # f and value_and_grad, here on this process's one device
    assert jax.device_count() == 1
    mean, cov = jnp.asarray(MEAN), jnp.asarray(COV)
    for name, rule in RULES.items():
        got = many[name]
        assert got["spread"], f"{name}: the program does not spread its nodes over the devices"
        value, (d_mean, d_cov) = namespace["value_and_grad"](eval(rule, namespace))(mean, cov)
        np.testing.assert_allclose(got["value"], value, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got["d_mean"], d_mean, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got["d_cov"], d_cov, rtol=1e-12, atol=1e-14)


DISTRIBUTED = """
import json, sys
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"127.0.0.1:{PORT}", num_processes=2, process_id=int(sys.argv[1]))
mean, cov = jnp.asarray(MEAN), jnp.asarray(COV)
rule = eval(RULES["gauss_hermite"])
program = str(jax.make_jaxpr(value_and_grad(rule))(mean, cov))
value, (d_mean, d_cov) = value_and_grad(rule)(mean, cov)
print(json.dumps({
    "devices": jax.device_count(), "spread": "shard_map" in program,
    "value": float(value), "d_mean": d_mean.tolist(), "d_cov": d_cov.tolist(),
}))
jax.distributed.shutdown()
"""


def test_two_processes_on_the_loopback_address_give_the_one_process_result():
    with socket.socket() as probe:  # a free port for the coordinator
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    header = f"MEAN = {MEAN!r}\nCOV = {COV!r}\nRULES = {RULES!r}\nPORT = {port}\n" + SHARED
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", header + DISTRIBUTED, str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-2000:]
    namespace = {"MEAN": MEAN, "COV": COV, "RULES": RULES}
    exec(SHARED, namespace)
    rule = eval(RULES["gauss_hermite"], namespace)
    value, (d_mean, d_cov) = namespace["value_and_grad"](rule)(jnp.asarray(MEAN), jnp.asarray(COV))
    for stdout, _ in outputs:
        got = json.loads(stdout.strip().splitlines()[-1])
        assert got["devices"] == 2 and got["spread"]
        np.testing.assert_allclose(got["value"], value, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got["d_mean"], d_mean, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got["d_cov"], d_cov, rtol=1e-12, atol=1e-14)
