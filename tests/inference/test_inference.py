"""How the fit runs: the chain methods, the set-up without runs, and the ordered ELBO."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal

from tuneahead.inference import InferenceConfig, OrderedELBO, chain_method, compile_fit, fit
from tuneahead.inference.arguments import without_runs
from tuneahead.inference.start import link_start, start_strategy
from tuneahead.model.design import ModelDesign, ModelSpec
from tuneahead.model.hierarchical import hierarchical_model
from tuneahead.synthetic import PopulationDesign, sample_population


def _model_kwargs(seed=0):
    pop = sample_population(design=PopulationDesign(n_groups=3, runs_per_group=6, budgets=(400.0,)), seed=seed)
    design = ModelDesign.fit(pop.table, ModelSpec())
    data = design.encode(pop.table, with_outcome=True)
    unknown, healthy, diverged = data.by_fate()
    kwargs = dict(data=unknown, healthy=healthy, diverged=diverged, n_groups=len(design.groups), n_metrics=1)
    return data, kwargs


def test_chain_method_falls_back_to_sequential_without_a_device_per_chain():
    parallel = InferenceConfig(chain_method="parallel", num_chains=2)
    expected = "parallel" if jax.local_device_count() >= 2 else "sequential"
    assert chain_method(parallel) == expected
    assert chain_method(InferenceConfig(chain_method="vectorized", num_chains=1)) == "sequential"
    assert chain_method(InferenceConfig(chain_method="vectorized", num_chains=2)) == "vectorized"
    with pytest.raises(ValueError, match="inference.chain_method='threads'"):
        InferenceConfig(chain_method="threads")


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(method="svi", svi_steps=0), r"inference.svi_steps=0; use a whole number of at least 1"),
        (dict(method="svi", svi_draws=True), r"inference.svi_draws=True"),
        (dict(method="svi", svi_learning_rate=0.0), r"inference.svi_learning_rate=0.0; use a positive step size"),
        (dict(num_chains=0), r"inference.num_chains=0"),
    ],
)
def test_counts_and_step_sizes_that_cannot_run_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        InferenceConfig(**bad)


def test_set_up_without_runs_keeps_the_columns():
    data, kwargs = _model_kwargs()
    empty = without_runs(kwargs)
    assert empty["n_groups"] == kwargs["n_groups"]
    for name in ("data", "healthy", "diverged"):
        assert empty[name].y.shape == (0, data.y.shape[1])
        assert empty[name].x_static.shape == (0, data.x_static.shape[1])


def test_ordered_elbo_equals_numpyros_trace_elbo():
    """Same draw (same key split), same terms: the two losses differ only by summation order,
    which in float32 moves the last bits; rtol 1e-5 is about 100 float32 ulps of the sum. The
    guide is set up and both losses run in one compiled program, as the fit runs them."""
    data, kwargs = _model_kwargs()
    guide = AutoNormal(hierarchical_model, init_loc_fn=start_strategy(link_start(data, 1)))
    svi = SVI(hierarchical_model, guide, optax.adam(0.01), Trace_ELBO())

    @jax.jit
    def both(key):
        params = svi.get_params(svi.init(jax.random.PRNGKey(0), **without_runs(kwargs)))
        ours = OrderedELBO().loss(key, params, hierarchical_model, guide, **kwargs)
        return ours, Trace_ELBO().loss(key, params, hierarchical_model, guide, **kwargs)

    for seed in range(3):
        ours, theirs = both(jax.random.PRNGKey(seed))
        assert float(ours) == pytest.approx(float(theirs), rel=1e-5)


@pytest.mark.slow
def test_parallel_chains_sample_the_posterior_of_sequential_ones():
    """With a CPU device per chain, chains side by side sample the posterior that chains one after
    another do. They start alike with the same keys, but the two compiled programs round
    differently and the chains part after a few iterations, so the check is statistical: each
    posterior mean within 4 Monte Carlo standard errors of the difference (a 6e-5 chance per site
    of a false alarm under normality). Run in a fresh process, since JAX fixes its devices when it
    starts."""
    script = textwrap.dedent(
        """
        import json
        import numpy as np
        from tuneahead.inference import InferenceConfig, fit, use_host_devices
        use_host_devices(2)
        import jax
        import arviz as az
        assert jax.local_device_count() == 2, jax.devices()
        from tuneahead.synthetic import PopulationDesign, sample_population
        from tuneahead.model.design import ModelSpec
        pop = sample_population(design=PopulationDesign(n_groups=4, runs_per_group=10, budgets=(400.0,)), seed=0)
        out = {}
        for method in ("parallel", "sequential"):
            config = InferenceConfig(num_warmup=150, num_samples=150, chain_method=method, progress=False,
                                     compilation_cache=None)
            post = fit(pop.table, ModelSpec(failure_gate=False), config).idata.posterior
            out[method] = {}
            for k in ("a0", "lam0", "lam1", "sigma_eps"):
                x = post[k].values.reshape(2, 150, -1)[..., 0]
                out[method][k] = [float(x.mean()), float(x.std() / np.sqrt(az.ess(x, method="mean")))]
            out[method]["shape"] = list(post["lam1"].shape)
        print(json.dumps(out))
        """
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_NUM_CPU_DEVICES", None)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["parallel"]["shape"] == [2, 150, 1]
    for site in ("a0", "lam0", "lam1", "sigma_eps"):
        (m1, se1), (m2, se2) = out["parallel"][site], out["sequential"][site]
        assert abs(m1 - m2) < 4 * np.hypot(se1, se2), (site, m1, m2, se1, se2)


@pytest.mark.slow
def test_svi_program_is_served_from_the_compilation_cache_in_a_new_process(tmp_path):
    """numpyro's Trace_ELBO sums over a set of site names, so its program changed with Python's
    hash seed and a new process never found it in the persistent cache. Two processes with
    different hash seeds fit the same table; the second must load the program the first wrote."""
    script = textwrap.dedent(
        f"""
        import jax, jax.monitoring
        hits = []
        def count(event, **_):
            if event.endswith("cache_hits"):
                hits.append(event)
        jax.monitoring.register_event_listener(count)
        from tuneahead.synthetic import PopulationDesign, sample_population
        from tuneahead.model.design import ModelSpec
        from tuneahead.inference import InferenceConfig, fit
        pop = sample_population(design=PopulationDesign(n_groups=3, runs_per_group=6, budgets=(400.0,)), seed=0)
        config = InferenceConfig(method="svi", svi_steps=50, svi_draws=20, progress=False,
                                 compilation_cache={str(tmp_path / "cache")!r})
        fit(pop.table, ModelSpec(), config)
        print("hits", len(hits))
        """
    )
    counts = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONHASHSEED": hash_seed}
        env.pop("JAX_COMPILATION_CACHE_DIR", None)  # the fit's own cache, not the test session's
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        counts.append(int(result.stdout.strip().splitlines()[-1].split()[1]))
    assert counts[1] >= 1, counts


def test_run_rows_are_few_sizes_that_waste_at_most_a_quarter():
    from tuneahead.inference.arguments import run_rows

    assert [run_rows(n) for n in (1, 8, 9, 11, 13, 17, 33, 1000)] == [8, 8, 10, 12, 14, 20, 40, 1024]
    sizes = np.array([run_rows(n) for n in range(1, 5000)])
    assert np.all(sizes >= np.arange(1, 5000)) and np.all(np.diff(sizes) >= 0)
    assert np.all(sizes[8:] <= 1.25 * np.arange(9, 5000)) and len(np.unique(sizes)) < 50


def test_a_few_draws_and_runs_are_padded_to_their_classes_and_many_keep_their_sizes():
    """Draws and runs padded to their classes, and the points to :data:`POINT_FLOOR` where the work
    is small; many draws keep the exact sizes, with the points padded to their class alone."""
    from tuneahead.inference.arguments import PADDED_PAIRS, PADDED_POINTS, POINT_FLOOR, point_columns, size_classes

    widths = {0: 1, 1: 1, 2: 2, 3: 4, 5: 8, 8: 8, 9: 10, 10: 10, 11: 12, 15: 16, 17: 20, 30: 32}
    assert {w: point_columns(w) for w in widths} == widths
    assert [point_columns(w, POINT_FLOOR) for w in (0, 4, 16, 17)] == [16, 16, 16, 20]

    data, _ = _model_kwargs()  # 18 runs of 4 points
    few = {"sigma_eps": np.arange(17.0), "lam1": np.ones((17, 1))}
    params, padded = size_classes(few, data)
    assert padded.t.shape == (20, POINT_FLOOR) and params["lam1"].shape == (20, 1)
    assert np.all(np.asarray(params["sigma_eps"])[16:] == 16.0)  # the last draw repeated
    assert not np.asarray(padded.mask)[:, data.t.shape[1] :].any()
    assert size_classes(few, data, curves=False)[1].t.shape == (20, data.t.shape[1])
    many = {"sigma_eps": np.zeros(PADDED_PAIRS // 18 + 1)}
    params, same = size_classes(many, data)
    assert params is many and same.t.shape == (18, POINT_FLOOR)
    most = {"sigma_eps": np.zeros(PADDED_POINTS // (18 * POINT_FLOOR) + 1)}
    assert size_classes(most, data)[1].t.shape == data.t.shape


def test_padding_rows_add_nothing_to_the_log_density():
    """Copies of a run marked absent leave the model's log density as it was (float32 sums)."""
    from numpyro.infer.util import log_density

    data, kwargs = _model_kwargs()
    sites = sample_population(design=PopulationDesign(n_groups=3, runs_per_group=6), seed=0).site_values()
    healthy = kwargs["healthy"]
    padded = {**kwargs, "healthy": healthy.padded_runs(len(healthy.y) + 5)}
    assert int(padded["healthy"].present.sum()) == len(healthy.y) and len(padded["healthy"].y) == len(healthy.y) + 5

    @jax.jit
    def both(s):
        plain = log_density(hierarchical_model, (), kwargs, s)[0]
        return plain, log_density(hierarchical_model, (), padded, s)[0]

    plain, with_padding = both(sites)
    assert np.isfinite(float(plain)) and float(with_padding) == pytest.approx(float(plain), rel=1e-5)


def _compile_seconds(fits, served: bool = False):
    """Seconds of backend compiling that each of ``fits`` (name, callable) spent, and its result;
    with ``served``, the compile time of the programs the persistent cache served counts too."""
    from jax._src import monitoring

    spent, results, now = {}, {}, [None]

    def listen(event, seconds, **_):
        if event.endswith("backend_compile_duration") or (served and event.endswith("compile_time_saved_sec")):
            spent[now[0]] += seconds

    monitoring.register_event_duration_secs_listener(listen)
    try:
        for name, run in fits:
            now[0], spent[name] = name, 0.0
            results[name] = run()
    finally:
        monitoring.unregister_event_duration_listener(listen)
    return spent, results


@pytest.mark.parametrize(
    "first, second",
    [
        # a model (no gate) and NUTS settings no other test fits: the session's cache rarely serves the first fit
        (dict(method="svi", svi_steps=61, svi_draws=20), dict(method="svi", svi_steps=161, svi_draws=20)),
        (dict(method="nuts", num_warmup=21, num_samples=21), dict(method="nuts", num_warmup=21, num_samples=21)),
    ],
    ids=["svi", "nuts"],
)
def test_a_table_of_a_nearby_size_reuses_the_compiled_fit(first, second):
    """Two tables whose parts pad to the same sizes: the second fit compiles next to nothing (a few
    small array operations outside the program), even with another number of SVI steps, and its
    result is the fit of its own runs (the first table's extra run changes it)."""
    pop = sample_population(design=PopulationDesign(n_groups=3, runs_per_group=6, budgets=(400.0,)), seed=1)
    spec = ModelSpec(failure_gate=False)
    common = dict(progress=False, centered_groups=False, num_chains=1)
    smaller = pop.table.select(np.arange(len(pop.table) - 1))
    spent, fits = _compile_seconds(
        [
            ("first", lambda: fit(pop.table, spec, InferenceConfig(**first, **common))),
            ("second", lambda: fit(smaller, spec, InferenceConfig(**second, **common))),
        ]
    )
    if spent["first"] < 1.0:
        pytest.skip(f"the first fit was served from a persistent compilation cache ({spent})")
    assert spent["second"] < 0.1 * spent["first"], spent
    assert not np.allclose(fits["first"].idata.posterior["a0"].values, fits["second"].idata.posterior["a0"].values)


def test_a_fit_after_compile_fit_of_its_classes_compiles_next_to_nothing():
    """compile_fit on one table, then a fit of a table one run larger in the same size classes
    (22 and 23 runs pad to 24): the fit finds its programs compiled. NUTS is refused by name."""
    pop = sample_population(design=PopulationDesign(n_groups=3, runs_per_group=8, budgets=(400.0,)), seed=2)
    spec = ModelSpec(failure_gate=False)
    config = InferenceConfig(method="svi", svi_steps=61, svi_draws=20, progress=False, centered_groups=False)
    smaller = pop.table.select(np.arange(len(pop.table) - 2))
    spent, fits = _compile_seconds(
        [
            ("ahead", lambda: compile_fit(smaller, spec, config)),
            ("fit", lambda: fit(pop.table.select(np.arange(len(pop.table) - 1)), spec, config)),
        ],
        served=True,  # compiled here or served by the session's persistent cache, the work is done ahead
    )
    assert spent["ahead"] > 1.0 and spent["fit"] < 0.1 * spent["ahead"], spent
    assert fits["ahead"] is None and np.isfinite(fits["fit"].idata.posterior["a0"].values).all()
    with pytest.raises(ValueError, match="inference.method='nuts'"):
        compile_fit(smaller, spec, InferenceConfig(method="nuts"))


def test_a_refit_on_part_of_a_table_runs_the_programs_of_its_fit():
    """Model choice refits each variant on folds and with runs left out. Told the table its runs
    come from, a refit pads each part of its runs to that table's size class: after the whole
    table's fit it compiles next to nothing, and its result is the fit of its own runs (as fitted
    alone, to float32 sums in another order). With the gate, every part matches in shape."""
    from tuneahead.inference.arguments import program_arguments
    from tuneahead.inference.fitting import _prepared, refit_arguments

    # 4 groups and no gate: sizes no other test fits, so this process is unlikely to have compiled them
    pop = sample_population(design=PopulationDesign(n_groups=4, runs_per_group=6, budgets=(400.0,)), seed=4)
    spec = ModelSpec(failure_gate=False)
    config = InferenceConfig(method="svi", svi_steps=61, svi_draws=20, progress=False, centered_groups=False)
    fold = pop.table.select(np.flatnonzero(np.arange(len(pop.table)) % 3))  # 16 of 24 runs: a smaller class
    spent, fits = _compile_seconds(
        [
            ("whole", lambda: fit(pop.table, spec, config)),
            ("refit", lambda: fit(fold, spec, config, refit_of=pop.table)),
            ("alone", lambda: fit(fold, spec, config)),  # the fold's own class: compiled here
        ],
        served=True,  # compiled here or served by the session's persistent cache
    )
    a0 = {k: fits[k].idata.posterior["a0"].values for k in fits}
    np.testing.assert_allclose(a0["refit"], a0["alone"], rtol=1e-3, atol=1e-3)
    assert not np.allclose(a0["refit"], a0["whole"])
    gated, healthy = ModelSpec(), np.flatnonzero(pop.table.diverged == 0)
    assert (pop.table.diverged == 1).any()
    kept = pop.table.select(np.setdiff1d(np.arange(len(pop.table)), healthy[:8]))  # the diverged runs kept
    whole = program_arguments(_prepared(pop.table, gated, config)[2])[0]
    part = program_arguments(refit_arguments(_prepared(kept, gated, config)[2], pop.table))[0]
    assert {k: v.y.shape for k, v in part.items()} == {k: v.y.shape for k, v in whole.items()}
    cold = max(spent["whole"], spent["alone"])
    if cold < 1.0:
        pytest.skip(f"this process had compiled both classes before ({spent})")
    assert spent["refit"] < 0.1 * cold, spent


def test_svi_runs_exactly_its_steps_in_calls_of_a_fixed_length():
    """A number of steps that is not a multiple of the call's length: the last call stops at it."""
    from tuneahead.inference.arguments import program_arguments
    from tuneahead.inference.svi import CHUNK_STEPS, _optimize, _programs

    data, kwargs = _model_kwargs()
    runs, settings = program_arguments(kwargs)
    init, advance = _programs(hierarchical_model, settings, "normal", 0.01)
    start = {k: jax.numpy.asarray(v, jax.numpy.float32) for k, v in link_start(data, 1).items()}
    steps = CHUNK_STEPS + 7
    state, losses = _optimize(init, advance, jax.random.PRNGKey(0), runs, start, steps, progress=False)
    assert int(state.optim_state[0]) == steps and losses.shape == (steps,) and np.all(np.isfinite(losses))
