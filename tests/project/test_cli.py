from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from core.cli import main
from tests.conftest import REPO, assert_close_to_max, golden_case_names
from tests.corpus import hostile_corpus


@pytest.fixture(scope="module")
def golden_dir(golden, tmp_path_factory):
    folder = tmp_path_factory.mktemp("golden_images")
    for case in golden_case_names():
        Image.fromarray(golden[f"{case}_image"]).save(folder / f"{case}.png")
    return folder


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def test_cli_reproduces_official_output_for_every_golden_case(golden_dir, golden, reference_weights, tmp_path, capsys):
    code, err = _run(["predict", golden_dir, "--out", tmp_path, "--weights", reference_weights], capsys)
    assert code == 0, err
    for case in golden_case_names():
        depth = np.load(tmp_path / f"{case}.npy", allow_pickle=False)
        assert depth.dtype == np.float32
        assert_close_to_max(depth, golden[f"{case}_full"])
        heat = cv2.imread(str(tmp_path / f"{case}_depth.png"), cv2.IMREAD_UNCHANGED)
        d16 = cv2.imread(str(tmp_path / f"{case}_depth16.png"), cv2.IMREAD_UNCHANGED)
        assert heat.shape == (*depth.shape, 3) and heat.dtype == np.uint8
        assert d16.shape == depth.shape and d16.dtype == np.uint16
        # near = bright in the 16-bit map: the largest prediction is white, the smallest black
        assert d16.flat[depth.argmax()] == 65535 and d16.flat[depth.argmin()] == 0
    assert f"done: {len(golden_case_names())} of {len(golden_case_names())}" in err
    assert "[1/7]" in err  # batch progress


def test_bad_inputs_are_reported_and_good_ones_still_written(golden_dir, reference_weights, tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    good = golden_dir / "case0_640x480.png"
    out = tmp_path / "out"
    code, err = _run(["predict", bad, good, tmp_path / "missing.png", "--out", out, "--weights", reference_weights],
                     capsys)
    assert code == 1
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 2
    assert "broken.jpg" in error_lines[0] and "missing.png" in error_lines[1]
    assert (out / "case0_640x480.npy").is_file() and not (out / "broken.npy").exists()
    assert "done: 1 of 3" in err


def test_hostile_corpus_through_the_cli(reference_weights, tmp_path, capsys):
    items = [item for item in hostile_corpus() if item.max_pixels is None]
    paths = []
    for i, item in enumerate(items):
        path = tmp_path / "in" / f"{i:03d}_{item.name.replace('/', '_').replace(' ', '_')}.png"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(item.data)
        paths.append(path)
    code, err = _run(["predict", *paths, "--out", tmp_path / "out", "--weights", reference_weights], capsys)
    expected_failures = [p for p, item in zip(paths, items) if item.expect_error]
    assert code == (1 if expected_failures else 0)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == len(expected_failures)  # one line per bad file, no tracebacks
    assert "Traceback" not in err
    for path, item in zip(paths, items):
        written = (tmp_path / "out" / f"{path.stem}.npy").is_file()
        assert written == (item.expect_error is None), item.name
        if written:
            depth = np.load(tmp_path / "out" / f"{path.stem}.npy")
            assert depth.shape == item.shape and np.isfinite(depth).all()


def test_duplicate_stems_do_not_overwrite(golden_dir, reference_weights, tmp_path, capsys):
    other = tmp_path / "b"
    other.mkdir()
    (other / "case0_640x480.png").write_bytes((golden_dir / "case6_300x300.png").read_bytes())
    code, _ = _run(["predict", golden_dir / "case0_640x480.png", other / "case0_640x480.png",
                    "--out", tmp_path / "out", "--weights", reference_weights], capsys)
    assert code == 0
    assert np.load(tmp_path / "out" / "case0_640x480.npy").shape == (480, 640)
    assert np.load(tmp_path / "out" / "case0_640x480_2.npy").shape == (300, 300)


@pytest.mark.parametrize(
    "argv",
    [[], ["predict"], ["predict", "x.png"], ["predict", "x.png", "--out", "o", "--size", "300"],
     ["predict", "x.png", "--out", "o", "--colormap", "rainbowish"], ["frobnicate"]],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_empty_folder_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("no images here")
    code, err = _run(["predict", tmp_path, "--out", tmp_path / "out"], capsys)
    assert code == 2 and "contains no images" in err


def test_missing_weights_path_fails_with_exit_1(golden_dir, tmp_path, capsys):
    code, err = _run(["predict", golden_dir / "case0_640x480.png", "--out", tmp_path / "o",
                      "--weights", tmp_path / "nope.pt"], capsys)
    assert code == 1
    assert "nope.pt" in err and "Traceback" not in err


def test_python_dash_m_core_info_prints_hash(reference_weights):
    env = {**os.environ, "MIDAS_WEIGHTS": str(reference_weights)}
    result = subprocess.run([sys.executable, "-m", "core", "info"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    from core.midas.download import sha256_file

    assert sha256_file(reference_weights) in result.stdout
    assert "found via env" in result.stdout


@pytest.mark.parametrize(("flag", "backend"), [([], "fast"), (["--backend", "torch"], "torch")])
def test_info_names_the_backend_auto_picks_fast_when_openvino_is_there(reference_weights, capsys, flag, backend):
    pytest.importorskip("openvino")
    code = main(["info", "--weights", str(reference_weights), *flag])
    out = capsys.readouterr().out
    assert code == 0 and f"backend: {backend}," in out
    assert ("OpenVINO" in out) == (backend == "fast")


def test_predict_says_why_it_falls_back_to_torch(golden_dir, reference_weights, tmp_path, capsys, monkeypatch):
    import core.midas.predictor
    from core.midas.openvino_backend import FastBackendError

    def broken(*args, **kwargs):
        raise FastBackendError("the OpenVINO model failed its self-check")

    monkeypatch.setattr(core.midas.predictor, "load_openvino_model", broken)
    code, err = _run(["predict", golden_dir / "case0_640x480.png", "--out", tmp_path, "--weights", reference_weights],
                     capsys)
    assert code == 0 and (tmp_path / "case0_640x480.npy").is_file()
    assert "note: running on torch" in err and "failed its self-check" in err

    code, err = _run(["info", "--weights", reference_weights, "--backend", "fast"], capsys)
    assert code == 1 and err.strip() == "error: fast backend: the OpenVINO model failed its self-check"


def _quadrant_jpeg(width: int, height: int) -> bytes:
    """A width x height JPEG in four flat colours: 48 MP encodes to under 1 MB in a fraction of a second."""
    im = Image.new("RGB", (width, height), (230, 30, 30))
    im.paste((30, 200, 40), (width // 2, 0, width, height // 2))
    im.paste((40, 60, 220), (0, height // 2, width // 2, height))
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_a_48_mp_photo_is_predicted_at_half_scale_and_the_cli_says_so(reference_weights, tmp_path, capsys):
    photo = tmp_path / "IMG_48MP.jpg"
    photo.write_bytes(_quadrant_jpeg(8000, 6000))
    huge_png = tmp_path / "scan.png"  # only its header: PNGs above the limit are refused before decoding
    huge_png.write_bytes(_png_header_only(8000, 6000))
    code, err = _run(["predict", photo, huge_png, "--out", tmp_path / "out", "--weights", reference_weights], capsys)
    assert code == 1, err
    notes = [line for line in err.splitlines() if line.startswith("note:") and "scale" in line]
    assert notes == [
        f"note: {photo}: decoded at 1/2 scale: 4000×3000 from 8000×6000 (48 MP, above the 40 MP limit for full "
        "resolution)"
    ]
    assert np.load(tmp_path / "out" / "IMG_48MP.npy").shape == (3000, 4000)
    assert f"{photo} (4000x3000) ->" in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {huge_png}: The image is 8000×6000 = 48 MP, above the 40 MP limit for PNG files (only JPEG photos "
        "are decoded at a reduced size): downscale it to at most 40 MP, or save it as a JPEG."
    ]
    assert "done: 1 of 2" in err


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels: its signature and IHDR chunk only."""
    chunk = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))


# --- issue 14: predict --format, and describe (files that say what they hold) ---


def test_predict_format_writes_each_float_file_and_describe_reads_their_fields(golden_dir, reference_weights,
                                                                               tmp_path, capsys):
    from core.io.float_maps import read_exr, read_pfm
    from core.io.metadata import read_sidecar
    from core.midas.download import sha256_file

    out = tmp_path / "out"
    code, err = _run(["predict", golden_dir / "case0_640x480.png", "--out", out, "--weights", reference_weights,
                      "--format", "png16,npy,pfm,exr"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["case0_640x480_depth16.png", "case0_640x480.npy", "case0_640x480.npy.json", "case0_640x480.pfm",
         "case0_640x480.pfm.json", "case0_640x480.exr"])  # no heatmap: it was not asked for
    assert f"-> {out / 'case0_640x480'}_depth16.png, .npy, .pfm, .exr in" in err
    depth = np.load(out / "case0_640x480.npy", allow_pickle=False)
    pfm, scale = read_pfm((out / "case0_640x480.pfm").read_bytes())
    channels, header = read_exr((out / "case0_640x480.exr").read_bytes())
    assert scale == 1.0 and pfm.tobytes() == depth.tobytes()  # the same float32 map, bit for bit
    assert list(channels) == ["Y"] and channels["Y"].tobytes() == depth.tobytes()

    sha = sha256_file(reference_weights)
    text = Image.open(out / "case0_640x480_depth16.png").text  # Pillow reads the chunks
    assert text["weights_sha256"] == sha and text["network_size"] == "256" and text["source_size"] == "640x480"
    assert (float(text["value_at_0"]), float(text["value_at_max"])) == (float(depth.min()), float(depth.max()))
    for sidecar in ("case0_640x480.npy.json", "case0_640x480.pfm.json"):
        record = read_sidecar((out / sidecar).read_bytes())
        assert record["weights_sha256"] == sha and record["shape"] == "480x640"
        assert record["content"] == "relative inverse depth" and record["encoding"].startswith("float32")
    assert header["weights_sha256"] == sha

    names = ["case0_640x480_depth16.png", "case0_640x480.npy", "case0_640x480.pfm", "case0_640x480.exr"]
    code = main(["describe", *(str(out / n) for n in names)])
    printed = capsys.readouterr().out
    assert code == 0
    blocks = printed.split(f"{out}/")[1:]
    assert [b.split(":", 1)[0] for b in blocks] == names
    for block in blocks:
        assert f"weights_sha256: {sha}" in " ".join(block.split())
        assert "content: relative inverse depth" in " ".join(block.split())
        assert "network_size: 256" in " ".join(block.split()) and "source_size: 640x480" in " ".join(block.split())
    assert "file: PFM, grayscale 640x480, float32 little-endian" in " ".join(blocks[2].split())


def test_predict_default_files_state_their_fields_too(golden_dir, reference_weights, tmp_path, capsys):
    code, err = _run(["predict", golden_dir / "case6_300x300.png", "--out", tmp_path, "--weights", reference_weights,
                      "--colormap", "turbo"], capsys)
    assert code == 0, err
    assert {p.name for p in tmp_path.iterdir()} == {
        "case6_300x300.npy", "case6_300x300.npy.json", "case6_300x300_depth.png", "case6_300x300_depth16.png"}
    heat = Image.open(tmp_path / "case6_300x300_depth.png").text
    assert "turbo" in heat["encoding"] and heat["max_code"] == "255" and heat["near"] == "the last colour of turbo"


@pytest.mark.parametrize("formats", ["", "png,tiff", "npy,,jpeg"])
def test_unknown_formats_are_a_usage_error(formats, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["predict", "x.png", "--out", "o", "--format", formats])
    assert exc.value.code == 2
    assert "unknown output format" in capsys.readouterr().err


def test_describe_reports_each_bad_file_and_still_describes_the_others(tmp_path, capsys):
    from core.io.exports import png16_bytes
    from core.io.metadata import DepthFacts

    good = tmp_path / "good.png"
    good.write_bytes(png16_bytes(np.float32([[1.0, 2.0]]), metadata=DepthFacts("m", "0" * 64, 256, (2, 1))))
    notes = tmp_path / "notes.txt"
    notes.write_text("not a depth file")
    code = main(["describe", str(notes), str(good), str(tmp_path / "missing.npy")])
    captured = capsys.readouterr()
    assert code == 1
    errors = captured.err.splitlines()
    assert len(errors) == 2 and "notes.txt" in errors[0] and "not a file this app writes" in errors[0]
    assert "missing.npy" in errors[1] and "Traceback" not in captured.err
    assert f"{good}:" in captured.out and "value_at_max:" in captured.out


def test_video_npz_has_a_sidecar_that_describe_reads(reference_weights, tmp_path, capsys):
    from core.io.metadata import read_sidecar
    from tests.video.clips import make_clip

    clip = make_clip(tmp_path / "walk.mp4", 3, 10, (32, 24))
    out = tmp_path / "out"
    code = main(["video", str(clip), "--out", str(out), "--weights", str(reference_weights), "--backend", "torch"])
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    record = read_sidecar((out / "walk_depth.npz.json").read_bytes())
    assert record["shape"] == "3x24x32" and record["encoding"].startswith("float16")
    assert record["source_size"] == "32x24" and set(record["arrays"]) == {"depth", "timestamps"}
    assert main(["describe", str(out / "walk_depth.npz")]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "file: NumPy .npz, depth float16 (3, 24, 32), timestamps float64 (3,)" in printed
    assert "content: relative inverse depth" in printed and "network_size: 256" in printed


def test_python_dash_m_core_version():
    from core import __version__

    result = subprocess.run([sys.executable, "-m", "core", "--version"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"python -m core {__version__}"
