"""Model names: parsed once where they enter, into one object that is passed on."""

from __future__ import annotations

import collections
import functools

import numpy as np
import pytest
import torch

import dspnewton
from dspnewton.data.virtual_unit import OpticalLeveler
from dspnewton.errors import InputError
from dspnewton.model import names
from dspnewton.model.names import ModelChoice, parse_model, parse_model_choice

SR = 8000


def test_a_model_name_is_parsed_once(monkeypatch):
    """A name is parsed where it enters (dspnewton.fit, sweep, a fit.json) into one object that is passed on;
    names stored as text (a FitResult's model) are read through the same cache: along one grey-box fit (with
    its ff5 warm start) each distinct name is parsed exactly once."""
    raw, calls = names._parse_name.__wrapped__, collections.Counter()

    def counting(name):
        calls[name] += 1
        return raw(name)

    monkeypatch.setattr(names, "_parse_name", functools.lru_cache(maxsize=256)(counting))
    x = np.random.default_rng(0).standard_normal(4 * SR) * np.repeat([0.02, 0.3, 0.05, 0.2], SR)
    y = OpticalLeveler(70).process(x, SR)
    dspnewton.fit(torch.tensor(x), torch.tensor(y), SR, model="FB+2rel", max_iter=2, frame_seconds=2.0,
                  overlap_seconds=0.5)
    assert calls and set(calls.values()) == {1}, calls
    assert parse_model_choice("fb+2rel+gru") == ModelChoice(parse_model("fb+2rel"), True)
    assert parse_model_choice("auto").auto and parse_model_choice("Auto").name == "auto"
    with pytest.raises(InputError, match="takes 'auto' alone"):
        parse_model_choice("auto+gru")
    with pytest.raises(InputError, match="unknown model option 'magic'"):
        parse_model_choice("fb+magic")
