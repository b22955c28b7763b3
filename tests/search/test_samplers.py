import warnings

import pytest

from stratopt.search._samplers import SAMPLERS, SamplerOptions, make_sampler


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_building_a_sampler_warns_nothing(method: str) -> None:
    """The options stratopt picks are its own choice: Optuna's experimental-feature
    warnings about them would only be noise in every run."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_sampler(method, SamplerOptions(seed=3), n_objectives=1)
