"""core.teaching.network_anatomy: the nine blocks of MiDaS small measured on real inputs, on a private copy."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.midas.inference_gate import InferenceGate
from core.midas.transforms import preprocess
from core.teaching.network_anatomy import (
    BLOCKS,
    NetworkInspector,
    activation_grid,
    architecture_dot,
    block_table,
    channel_order,
    exercise_snippets,
    mean_activation,
    module_census,
    transformer_parts,
)
from core.teaching.network_receptive_field import influence_map, midas_deepest_path, receptive_field_size

MIDAS_SMALL_PARAMETERS = 21_320_545  # the official checkpoint's tensors, counted (issue 15)
_ENCODER = (32, 48, 136, 384)  # channels of the four EfficientNet-Lite3 stages
_DECODER = (256, 128, 64, 64)  # outputs of fusion blocks 4, 3, 2, 1 (features 64, expand=True)


@pytest.fixture(scope="module")
def inspector(reference_weights) -> NetworkInspector:
    return NetworkInspector.from_weights(reference_weights)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    small = np.random.default_rng(5).integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return cv2.resize(small, (256, 192), interpolation=cv2.INTER_CUBIC)  # 192x256x3 uint8, network input 192x256


def _no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def _by_hand(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each block's output, computed by calling the model's submodules in the order MidasSmall.forward does."""
    enc, s = model.pretrained, model.scratch
    with torch.inference_mode():
        l1 = enc.layer1(x)
        l2 = enc.layer2(l1)
        l3 = enc.layer3(l2)
        l4 = enc.layer4(l3)
        f4 = s.refinenet4(s.layer4_rn(l4))
        f3 = s.refinenet3(f4, s.layer3_rn(l3))
        f2 = s.refinenet2(f3, s.layer2_rn(l2))
        f1 = s.refinenet1(f2, s.layer1_rn(l1))
        head = s.output_conv(f1)
    return dict(zip([b.key for b in BLOCKS], (l1, l2, l3, l4, f4, f3, f2, f1, head)))


@pytest.mark.parametrize(("h", "w"), [(64, 96), (96, 256), (256, 256)])
def test_block_shapes_are_what_the_model_produces(inspector, h, w):
    x = torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(h + w))

    run = inspector.run_input(x)

    expected = [(c, h // 2 ** (i + 2), w // 2 ** (i + 2)) for i, c in enumerate(_ENCODER)]
    expected += [(c, h // 2 ** (4 - i), w // 2 ** (4 - i)) for i, c in enumerate(_DECODER)]
    expected += [(1, h, w)]
    assert [b.shape for b in run.blocks] == expected
    by_hand = _by_hand(inspector.model, x)
    for block in BLOCKS:
        produced = by_hand[block.key][0].numpy()  # 1xCxhxw -> Cxhxw
        assert run.block(block.key).shape == produced.shape
        np.testing.assert_array_equal(run.activations[block.key], produced, err_msg=block.key)  # same ops, same order
    with torch.inference_mode():
        np.testing.assert_array_equal(run.output, inspector.model(x)[0].numpy())
    assert run.net_input.shape == (1, 3, h, w)


def test_the_parameter_counts_sum_to_the_models(inspector):
    counts = inspector.block_params
    assert sum(counts.values()) == MIDAS_SMALL_PARAMETERS
    assert sum(p.numel() for p in inspector.model.parameters()) == MIDAS_SMALL_PARAMETERS
    assert all(n > 0 for n in counts.values())
    # the blocks split the parameters: every tensor belongs to exactly one block
    names = [n for n, _ in inspector.model.named_parameters()]
    owners = [[b.key for b in BLOCKS if any(n.startswith(m + ".") for m in b.modules)] for n in names]
    assert all(len(o) == 1 for o in owners)


def _conv_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of every convolution, from each conv's output shape: out_c * h * w * in_c/groups * kh * kw."""
    total = 0

    def hook(conv: nn.Conv2d, args: object, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = conv.kernel_size
        total += out.numel() * (conv.in_channels // conv.groups) * kh * kw

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.inference_mode():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return total


def test_the_flops_at_256_are_torchs_own_count(inspector):
    from core.midas.model import create_midas_small

    x = torch.zeros(1, 3, 256, 256)
    run = inspector.run_input(x)

    fresh = create_midas_small()  # FLOPs do not depend on the weights
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        fresh(x)
    assert run.total_flops == counter.get_total_flops()
    assert sum(b.flops for b in run.blocks) == run.total_flops  # every convolution sits in a block
    # torch's convention: a multiply-add counts 2, and only the convolutions are counted
    assert run.total_flops == 2 * _conv_macs(fresh, x)
    assert round(run.total_flops / 1e9, 2) == 9.19  # the figure, "9.19 GFLOP at 256x256"


def test_times_are_measured_per_block_and_fit_in_the_pass(inspector, photo):
    run = inspector.run(photo, 256)
    assert all(b.seconds > 0 for b in run.blocks)
    assert sum(b.seconds for b in run.blocks) <= run.network_seconds
    table = block_table(run)
    assert [r["block"] for r in table[:-1]] == [b.title for b in BLOCKS]
    assert table[-1]["parameters"] == MIDAS_SMALL_PARAMETERS
    assert table[-1]["GFLOP"] == round(run.total_flops / 1e9, 3)
    assert 0 < table[-1]["time share (%)"] <= 100
    assert table[0]["output (C × h × w)"] == "32 × 48 × 64"


def test_the_run_uses_the_predictors_preprocessing(inspector, photo):
    run = inspector.run(photo, 256)
    np.testing.assert_array_equal(run.net_input, preprocess(photo, 256).numpy())


def test_hooks_are_removed_after_a_pass_and_after_a_failure(inspector):
    inspector.run_input(torch.zeros(1, 3, 64, 64))
    assert _no_hooks(inspector.model)
    with pytest.raises(ValueError, match="multiples of 32"):
        inspector.run_input(torch.zeros(1, 3, 60, 64))
    assert _no_hooks(inspector.model)


def test_the_inspector_copies_the_model_it_is_given():
    from core.midas.model import create_midas_small

    shared = create_midas_small()
    inspector = NetworkInspector(shared)
    inspector.run_input(torch.zeros(1, 3, 64, 64))
    assert inspector.model is not shared and _no_hooks(shared)
    with pytest.raises(TypeError, match="MidasSmall"):
        NetworkInspector(nn.Conv2d(3, 1, 1))


def test_a_prediction_while_a_student_holds_the_hooks_equals_the_serial_one(inspector, predictor, photo):
    """The shared predictor predicts while the inspector's copy is mid-pass with its hooks on."""
    serial = predictor.run(photo).net_output
    shared_model = predictor._network.model  # the torch module every session shares
    inside, release = threading.Event(), threading.Event()

    def hold(module, args, output):  # the student's pass stops here, hooks on, until released
        inside.set()
        assert release.wait(120)

    extra = inspector.model.scratch.refinenet2.register_forward_hook(hold)
    student = threading.Thread(target=inspector.run, args=(photo, 256))
    try:
        student.start()
        assert inside.wait(120)
        assert not _no_hooks(inspector.model)  # the student's hooks are on the copy
        assert _no_hooks(shared_model)  # and none on the shared network
        during = predictor.run(photo).net_output
    finally:
        release.set()
        student.join(120)
        extra.remove()
    np.testing.assert_array_equal(during, serial)  # same code path, same input: bit for bit
    assert _no_hooks(inspector.model) and _no_hooks(shared_model)


def test_a_student_pass_waits_for_the_inference_gate(reference_weights):
    gate = InferenceGate(1, timeout=60)
    inspector = NetworkInspector.from_weights(reference_weights, gate=gate)
    done = threading.Event()
    student = threading.Thread(target=lambda: (inspector.run_input(torch.zeros(1, 3, 64, 64)), done.set()))
    with gate.slot():  # a prediction holds the only slot
        student.start()
        deadline = time.monotonic() + 30
        while gate.waiting == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gate.waiting == 1 and not done.is_set()  # queued like any prediction, not beside it
    student.join(120)
    assert done.is_set()


def test_channel_order_and_mean_activation_by_hand():
    a = np.stack([np.zeros((2, 3)), np.full((2, 3), -3.0), np.ones((2, 3))]).astype(np.float32)
    assert channel_order(a).tolist() == [1, 2, 0]
    np.testing.assert_allclose(mean_activation(a), np.full((2, 3), -2 / 3), rtol=1e-6)
    with pytest.raises(ValueError, match="Cxhxw"):
        mean_activation(np.zeros((2, 3), np.float32))


def test_activation_grid_puts_the_strongest_channels_first():
    rng = np.random.default_rng(0)
    a = rng.random((5, 4, 6)).astype(np.float32)
    a[3] *= 10  # the strongest
    a[1] *= 5  # the second
    grid = activation_grid(a, count=3, columns=2, tile_width=(12, 12), cmap="gray")
    th = 8  # 4 rows scaled by 12 / 6
    assert grid.shape == (2 * th + 2, 2 * 12 + 2, 3) and grid.dtype == np.uint8
    from core.maps.colormaps import colorize

    first = cv2.resize(colorize(a[3], "gray"), (12, th), interpolation=cv2.INTER_NEAREST)
    second = cv2.resize(colorize(a[1], "gray"), (12, th), interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(grid[:th, :12], first)
    np.testing.assert_array_equal(grid[:th, 14:], second)
    assert (grid[th + 2:, 14:] == 255).all()  # only three tiles: the fourth place stays blank


def test_activation_grid_keeps_a_big_map_small():
    grid = activation_grid(np.random.default_rng(1).random((64, 512, 384)).astype(np.float32))
    assert grid.shape[1] <= 4 * 192 + 6  # 16 tiles of at most 192 px, 4 across


def test_misconception_evidence_there_is_no_transformer(inspector):
    census = module_census(inspector.model)
    assert census["Conv2d"] + census["Conv2dSame"] == sum(isinstance(m, nn.Conv2d) for m in inspector.model.modules())
    assert "BatchNormAct2d" in census and "Sequential" not in census
    assert transformer_parts(inspector.model) == []
    attention = nn.Sequential(nn.Conv2d(3, 8, 1), nn.MultiheadAttention(8, 2), nn.LayerNorm(8))
    assert transformer_parts(attention) == ["1 (MultiheadAttention)", "1.out_proj (NonDynamicallyQuantizableLinear)",
                                            "2 (LayerNorm)"]


def test_architecture_dot_draws_every_block_with_its_real_numbers(inspector):
    run = inspector.run_input(torch.zeros(1, 3, 96, 256))
    dot = architecture_dot(run)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for b in run.blocks:
        c, h, w = b.shape
        assert f"{b.spec.key} [label=\"{b.spec.title}\\n{c} × {h} × {w}" in dot
    for i in (1, 2, 3):
        assert f"stage{i} -> fusion{i} [style=dashed" in dot
    assert "stage4 -> fusion4" in dot and "head -> output" in dot


def test_the_snippets_run_and_reproduce_the_panels(inspector, photo, reference_weights, tmp_path, monkeypatch):
    """Run every panel's code in order, as a student would in a notebook."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    assert ok
    (tmp_path / "photo.jpg").write_bytes(buf.tobytes())  # the decoder sniffs the content, not the name
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIDAS_WEIGHTS", str(reference_weights))
    snippets = exercise_snippets(256, "stage3", x=100, y=50)
    assert [s.key for s in snippets] == ["setup", "architecture", "activations", "receptive_field", "misconceptions"]

    namespace: dict = {}
    for snippet in snippets:
        assert 2 <= len(snippet.code.splitlines()) <= 4  # imports plus 1-3 lines of work
        exec(compile(snippet.code, f"<snippet {snippet.key}>", "exec"), namespace)  # noqa: S102
        assert snippet.variable in namespace

    page_run = inspector.run(photo, 256)  # what the page shows, from the page's own inspector
    timeless = ("block", "output (C × h × w)", "parameters", "GFLOP")
    assert [{k: r[k] for k in timeless} for r in namespace["table"]] == [
        {k: r[k] for k in timeless} for r in block_table(page_run)
    ]
    np.testing.assert_array_equal(namespace["grid"], activation_grid(page_run.activations["stage3"]))
    np.testing.assert_array_equal(namespace["mean"], mean_activation(page_run.activations["stage3"]))
    np.testing.assert_array_equal(namespace["influence"], influence_map(inspector.gradient(page_run.net_input, 50, 100)))
    assert namespace["field"] == receptive_field_size(midas_deepest_path(inspector.model))
    assert namespace["census"] == module_census(inspector.model) and namespace["attention"] == []


@pytest.mark.parametrize(("args", "error"), [((200, "stage1", 0, 0), "size"), ((256, "stage9", 0, 0), "block"),
                                             ((256, "head", -1, 0), "x must be")])
def test_exercise_snippets_check_their_arguments(args, error):
    with pytest.raises(ValueError, match=error):
        exercise_snippets(*args)
