"""Tests for core.midas.checkpoint: reading the MiDaS small checkpoint safely and checking its tensors.

The checkpoint is the reference one in ``../shared/reference``.
"""

from __future__ import annotations

import json
import os
import pickle
import shlex
from pathlib import Path

import pytest
import torch

from tests.conftest import REFERENCE_MANIFEST as MANIFEST
from tests.conftest import REFERENCE_WEIGHTS as CHECKPOINT
from tests.conftest import skip_module_without_checkpoint

skip_module_without_checkpoint()

from core.midas.checkpoint import (  # noqa: E402  (after the skip, on purpose)
    check_state_dict,
    read_checkpoint,
)
from core.midas.errors import (  # noqa: E402
    WeightsCorruptError,
    WeightsMismatchError,
    WeightsNotFoundError,
    WeightsUnsafeError,
)


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference_bytes() -> bytes:
    return CHECKPOINT.read_bytes()


@pytest.fixture(scope="module")
def manifest_keys() -> list[tuple[str, list[int], str]]:
    return [tuple(entry) for entry in json.loads(MANIFEST.read_text())["keys"]]


@pytest.fixture(scope="module")
def expected(manifest_keys) -> dict[str, torch.Tensor]:
    """What the model's state_dict looks like, built from the manifest alone."""
    return {
        name: torch.empty(shape, dtype=getattr(torch, dtype))
        for name, shape, dtype in manifest_keys
    }


@pytest.fixture(scope="module")
def reference_state_dict() -> dict[str, torch.Tensor]:
    return read_checkpoint(CHECKPOINT)


# ----------------------------------------------------------------------------------------------
# read_checkpoint
# ----------------------------------------------------------------------------------------------


def test_read_checkpoint_returns_every_tensor_in_file_order(
    reference_state_dict, manifest_keys, expected
) -> None:
    assert list(reference_state_dict) == [name for name, _, _ in manifest_keys]
    assert all(
        isinstance(v, torch.Tensor) and v.device.type == "cpu"
        for v in reference_state_dict.values()
    )
    assert (
        sum(v.numel() for v in reference_state_dict.values() if v.is_floating_point()) > 21_000_000
    )
    check_state_dict(reference_state_dict, expected)  # raises on any difference


def test_read_checkpoint_unwraps_a_training_checkpoint(tmp_path: Path) -> None:
    weights = {"a.weight": torch.arange(4.0), "a.bias": torch.ones(2)}
    path = tmp_path / "train.pt"
    torch.save({"model": weights, "optimizer": {"state": {}, "param_groups": []}}, path)
    loaded = read_checkpoint(path)
    assert list(loaded) == ["a.weight", "a.bias"]
    assert torch.equal(loaded["a.weight"], weights["a.weight"])


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b[:100], id="first-100-bytes"),
        pytest.param(lambda b: b[: len(b) // 2], id="half"),
        pytest.param(lambda b: b[:-1000], id="last-1000-bytes-missing"),
        pytest.param(lambda b: b"<html><body>404 Not Found</body></html>", id="html-page"),
        pytest.param(lambda b: b"hello, not a checkpoint", id="text"),
    ],
)
def test_read_checkpoint_rejects_truncated_or_foreign_files(
    tmp_path: Path, reference_bytes: bytes, cut
) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(cut(reference_bytes))
    with pytest.raises(WeightsCorruptError) as info:
        read_checkpoint(path)
    assert str(path) in str(info.value)
    assert "download it again" in str(info.value)


def test_read_checkpoint_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match=r"nothing-here\.pt"):
        read_checkpoint(tmp_path / "nothing-here.pt")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param([torch.zeros(1)], id="list"),
        pytest.param({"a": 1}, id="int-value"),
        pytest.param({"a": {"b": torch.zeros(1)}}, id="nested"),
    ],
)
def test_read_checkpoint_rejects_non_state_dicts(tmp_path: Path, content) -> None:
    path = tmp_path / "odd.pt"
    torch.save(content, path)
    with pytest.raises(WeightsMismatchError, match="state_dict"):
        read_checkpoint(path)


class _Payload:
    """Pickles into a call of os.system; harmless here: it only creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.command = f"touch {shlex.quote(str(marker))}"

    def __reduce__(self):
        return (os.system, (self.command,))


class _PlainObject:
    pass


def test_payload_runs_when_unpickled_unsafely(tmp_path: Path) -> None:
    """Positive control: the payload really does run under a plain pickle load."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_read_checkpoint_refuses_a_malicious_pickle(tmp_path: Path, writer: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    content = {"pretrained.layer1.0.weight": torch.zeros(1), "x": _Payload(marker)}
    if writer == "torch.save":
        torch.save(content, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(content, f, protocol=2)
    with pytest.raises(WeightsUnsafeError) as info:
        read_checkpoint(path)
    assert not marker.exists(), "the payload ran"
    assert "refused for safety" in str(info.value)
    assert str(path) in str(info.value)


def test_read_checkpoint_refuses_arbitrary_objects(tmp_path: Path) -> None:
    path = tmp_path / "obj.pt"
    torch.save({"x": _PlainObject()}, path)
    with pytest.raises(WeightsUnsafeError, match="code or Python objects"):
        read_checkpoint(path)


# ----------------------------------------------------------------------------------------------
# check_state_dict
# ----------------------------------------------------------------------------------------------


def test_check_state_dict_missing_key(reference_state_dict, expected) -> None:
    name = (
        "scratch.output_conv.4.bias"
        if "scratch.output_conv.4.bias" in expected
        else next(reversed(expected))
    )
    broken = {k: v for k, v in reference_state_dict.items() if k != name}
    with pytest.raises(WeightsMismatchError) as info:
        check_state_dict(broken, expected)
    assert f"1 missing ({name})" in str(info.value)


def test_check_state_dict_many_missing_keys_are_summarised(reference_state_dict, expected) -> None:
    dropped = list(expected)[:10]
    broken = {k: v for k, v in reference_state_dict.items() if k not in dropped}
    with pytest.raises(WeightsMismatchError) as info:
        check_state_dict(broken, expected)
    message = str(info.value)
    assert "10 missing" in message
    assert all(name in message for name in dropped[:5])
    assert dropped[9] not in message and "..." in message


def test_check_state_dict_wrong_shape(reference_state_dict, expected) -> None:
    name = "pretrained.layer1.0.weight"
    broken = dict(reference_state_dict, **{name: torch.zeros(32, 3, 5, 5)})
    with pytest.raises(WeightsMismatchError) as info:
        check_state_dict(broken, expected)
    assert f"{name}: [32, 3, 5, 5] instead of [32, 3, 3, 3]" in str(info.value)
    assert "missing" not in str(info.value)


def test_check_state_dict_wrong_dtype(reference_state_dict, expected) -> None:
    name = "pretrained.layer1.0.weight"
    broken = dict(reference_state_dict, **{name: reference_state_dict[name].half()})
    with pytest.raises(
        WeightsMismatchError, match=f"{name}: torch.float16 instead of torch.float32"
    ):
        check_state_dict(broken, expected)


def test_check_state_dict_unexpected_key(reference_state_dict, expected) -> None:
    broken = dict(reference_state_dict, extra_head_weight=torch.zeros(3))
    with pytest.raises(WeightsMismatchError, match=r"1 unexpected \(extra_head_weight\)"):
        check_state_dict(broken, expected)


def test_check_state_dict_rejects_another_architecture(tmp_path: Path, expected) -> None:
    torchvision = pytest.importorskip("torchvision")
    resnet = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18.pt"
    torch.save(resnet, path)
    with pytest.raises(WeightsMismatchError) as info:
        check_state_dict(read_checkpoint(path), expected)
    message = str(info.value)
    assert f"{len(expected)} missing" in message and "pretrained.layer1.0.weight" in message
    assert f"{len(resnet)} unexpected" in message and "conv1.weight" in message


def test_check_state_dict_rejects_wrong_types(expected) -> None:
    with pytest.raises(TypeError, match="mapping"):
        check_state_dict([torch.zeros(1)], expected)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'a'"):
        check_state_dict({"a": [0.0]}, expected)  # type: ignore[dict-item]
