"""The rectified scaling law peer: it recovers the law it fits, and says when it cannot fit it."""

import numpy as np
import pytest

from tuneahead.baselines import RectifiedScalingLaw, fit_rectified_law, rectified_law
from tuneahead.data.runtable import RunTable

SIZES = np.array([1000.0, 3000.0, 6000.0, 10000.0, 20000.0])


def _law(d):
    return rectified_law(d / 1000.0, 40.0, 30.0, 2.0, 0.6)  # E, B, D_l, beta


def test_four_sizes_recover_the_law_and_its_reading_at_the_full_size():
    params, form = fit_rectified_law(SIZES[:4], _law(SIZES[:4]))
    assert form == "rectified"
    np.testing.assert_allclose(params, [40.0, 30.0, 2.0, 0.6], rtol=1e-3)
    assert rectified_law(20.0, *params) == pytest.approx(_law(20000.0), abs=1e-3)


def test_fewer_sizes_fall_back_to_the_power_law_then_the_last_value():
    power = rectified_law(SIZES / 1000.0, 40.0, 30.0, 0.0, 0.6)  # D_l = 0: three parameters
    params, form = fit_rectified_law(SIZES[:3], power[:3])
    assert form == "power"
    np.testing.assert_allclose(params, [40.0, 30.0, 0.0, 0.6], rtol=1e-4, atol=1e-9)
    assert fit_rectified_law(SIZES[:2], _law(SIZES[:2])) == (None, "last")
    assert fit_rectified_law(SIZES[:4], _law(SIZES[:4]), min_points=5) == (None, "last")


def _table(curves, finals):
    records = [
        {"run_id": f"r{i}", "group": "g", "budget": 20000.0, "final": f, "static": {}, "curves": {"score": c}}
        for i, (c, f) in enumerate(zip(curves, finals))
    ]
    return RunTable.from_records(records)


def test_the_peer_reads_each_run_up_to_the_budget_and_clips_to_the_training_range():
    law = list(zip(SIZES, _law(SIZES)))
    flat = [(s, 10.0) for s in SIZES]
    train = _table([law, flat], [_law(20000.0), 10.0])
    peer = RectifiedScalingLaw("score").fit(train, budget=10000.0)
    pred = peer.predict(train)
    assert peer.families_ == ["rectified", "rectified"]
    assert pred.mean[0] == pytest.approx(_law(20000.0), abs=1e-3)  # the final point itself is never seen
    assert pred.mean[1] == pytest.approx(10.0, abs=1e-6)
    short = RectifiedScalingLaw("score").fit(train, budget=3000.0)
    np.testing.assert_allclose(short.predict(train).mean, [_law(3000.0), 10.0])  # two points: the last value
    wide = RectifiedScalingLaw("score").fit(_table([law, flat], [_law(20000.0), 60.0]), budget=10000.0)
    from_zero = _table([[(0.0, 5.0), *law]], [_law(20000.0)])  # a point at size 0 is not read
    assert wide.predict(from_zero).mean[0] == pytest.approx(_law(20000.0), abs=1e-3)
    steep = _table([[(1000.0, 0.0), (3000.0, 30.0), (6000.0, 60.0), (10000.0, 100.0)]], [0.0])
    assert peer.predict(steep).mean[0] == pytest.approx(_law(20000.0))  # clipped to the training finals' top
