from __future__ import annotations

import numpy as np
import pytest
import torch

from core.midas.model import MidasSmall, checkpoint_filter_fn, create_midas_small
from core.midas.checkpoint import read_checkpoint
from core.midas.errors import WeightsMismatchError
from tests.conftest import assert_close_to_max, golden_case_names


@pytest.fixture(scope="module")
def model(reference_weights):
    return create_midas_small(read_checkpoint(reference_weights))


def test_state_dict_matches_official_manifest(manifest):
    sd = MidasSmall().state_dict()
    ours = [[name, list(t.shape), str(t.dtype).removeprefix("torch.")] for name, t in sd.items()]
    assert len(ours) == 482
    assert ours == manifest["keys"]  # names, order, shapes and dtypes


def test_parameter_count_matches_manifest(manifest):
    assert sum(p.numel() for p in MidasSmall().parameters()) == manifest["parameters"] == 21_320_545


def test_factory_returns_frozen_eval_model(model):
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


def test_training_checkpoint_wrapper_is_unwrapped(reference_weights):
    sd = read_checkpoint(reference_weights)
    wrapped = {"model": sd, "optimizer": {}}
    assert checkpoint_filter_fn(wrapped, MidasSmall()).keys() == sd.keys()


def test_wrong_shape_is_refused_before_loading(reference_weights):
    sd = dict(read_checkpoint(reference_weights))
    sd["scratch.layer1_rn.weight"] = torch.zeros(64, 32, 1, 1)
    with pytest.raises(WeightsMismatchError, match="scratch.layer1_rn.weight"):
        create_midas_small(sd)


@pytest.mark.parametrize("case", golden_case_names())
def test_network_output_matches_official(model, golden, case):
    x = torch.from_numpy(golden[f"{case}_input"])[None]
    with torch.inference_mode():
        out = model(x)[0].numpy()
    assert_close_to_max(out, golden[f"{case}_net"])
    assert out.min() >= 0  # non-negative head


@pytest.mark.parametrize("shape", [(1, 3, 250, 256), (1, 1, 256, 256), (3, 256, 256)])
def test_bad_input_shape_is_refused(shape):
    with pytest.raises(ValueError, match="32|Bx3xhxw"):
        MidasSmall()(torch.zeros(shape))
