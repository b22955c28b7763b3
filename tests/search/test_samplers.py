import warnings

import pytest

from stratopt.config import METHODS, SearchConfig
from stratopt.search import SAMPLERS, make_sampler


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_building_a_sampler_warns_nothing(method: str) -> None:
    """The options stratopt picks are its own choice: Optuna's experimental-feature
    warnings about them would only be noise in every run."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_sampler(SearchConfig(method=method), seed=3, n_objectives=1)


def test_every_method_of_the_study_file_has_a_sampler() -> None:
    assert list(SAMPLERS) == list(METHODS)
    for name, info in SAMPLERS.items():
        assert info.multi_objective == METHODS[name].multi_objective
        assert info.default_batch == METHODS[name].default_batch
