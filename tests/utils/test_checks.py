"""One error format, ``<argument>: expected <accepted>, got <value>``, for every check."""

import pytest

from experiments.digits.config import get_config
from jaxml.utils import checks
from jaxml.utils.config import ConfigError, check_choices, check_in_range, check_positive


def test_choice_names_argument_and_accepted_values():
    assert checks.choice("b", "mode", ("a", "b")) == "b"
    with pytest.raises(ValueError, match=r"^mode: expected one of a, b, got 'c'$"):
        checks.choice("c", "mode", ("a", "b"))


@pytest.mark.parametrize("bad", ["a,b", (), ("a", "z"), 3])
def test_choices_takes_only_non_empty_tuples_of_accepted(bad):
    with pytest.raises(ValueError, match="^names: expected a non-empty tuple of a, b, got "):
        checks.choices(bad, "names", ("a", "b"))
    assert checks.choices(["b", "a"], "names", ("a", "b")) == ("b", "a")


@pytest.mark.parametrize("bad", [0, -1.5, True, "3", None])
def test_positive_refuses_non_positive_and_non_numbers(bad):
    with pytest.raises(ValueError, match="^lr: expected a number > 0, got "):
        checks.positive(bad, "lr")


def test_positive_int_accepts_integral_floats_only():
    assert checks.positive_int(4.0, "n") == 4
    for bad in (4.5, 0, False):
        with pytest.raises(ValueError, match="^n: expected an integer > 0"):
            checks.positive_int(bad, "n")
    assert checks.positive_ints([2, 4], "depths") == (2, 4)
    with pytest.raises(ValueError, match="depths: expected a non-empty tuple of integers > 0"):
        checks.positive_ints((2, 0), "depths")


def test_in_range_open_and_closed_ends():
    assert checks.in_range(1.0, "gamma", 0.0, 1.0) == 1.0
    with pytest.raises(ValueError, match=r"^gamma: expected a value in \(0.0, 1.0\), got 1.0$"):
        checks.in_range(1.0, "gamma", 0.0, 1.0, closed=(False, False))


def test_config_checks_raise_config_error_naming_the_flag():
    config = get_config("quick")
    config.batch_size, config.test_fraction = 0, 1.0
    with pytest.raises(ConfigError, match=r"^--config.batch_size: expected a number > 0, got 0$"):
        check_positive(config, ("batch_size",))
    with pytest.raises(ConfigError, match=r"^--config.test_fraction: expected a value in \(0"):
        check_in_range(config, "test_fraction", 0.0, 1.0, closed=(False, False))
    config.tasks = ("x",)
    with pytest.raises(ConfigError, match="^--config.tasks: expected a non-empty tuple of y"):
        check_choices(config, "tasks", ("y",))
