"""The public API: every listed name resolves to its home's object, on first use."""

import importlib
import subprocess
import sys

import pytest

import tuneahead


def test_every_public_name_is_its_homes_object():
    for name in tuneahead.__all__:
        home = importlib.import_module(f"tuneahead.{tuneahead._HOME[name]}")
        assert getattr(tuneahead, name) is getattr(home, name), name
    assert set(tuneahead.__all__) <= set(dir(tuneahead))
    with pytest.raises(AttributeError, match="no attribute 'fitt'"):
        tuneahead.fitt  # noqa: B018


def test_fit_and_predict_stay_functions_beside_their_submodules():
    import tuneahead.fit  # noqa: F401 - the fit app, a submodule named like the function
    import tuneahead.predict.predictive  # noqa: F401
    from tuneahead import fit, predict

    assert callable(fit) and fit.__module__ == "tuneahead.inference.fitting"
    assert callable(predict) and predict.__module__.startswith("tuneahead.predict")
    assert tuneahead.fit is fit and tuneahead.predict is predict
    assert sys.modules["tuneahead.fit"].__name__ == "tuneahead.fit"


def test_a_probe_worker_does_not_import_the_model():
    """A probe worker pays for torch only: the package's import pulls neither jax nor numpyro."""
    code = "import sys, tuneahead.probe.sweep; assert not {'jax', 'numpyro', 'arviz'} & set(sys.modules), 'model'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
