"""``python -m core stereo``: every mode writes its file; bad inputs and settings as for ``predict``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from core import __version__
from core.cli import main
from core.io.describe import describe_file
from core.midas.download import sha256_file
from core.video.reader import probe_video
from tests.conftest import skip_module_without_checkpoint

skip_module_without_checkpoint()


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    rng = np.random.default_rng(5)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("stereo_in") / "scene.png"
    Image.fromarray(small).resize((160, 120), Image.BICUBIC).save(path)
    return path


@pytest.mark.parametrize(("mode", "suffix", "shape"), [
    ("sbs", "_sbs.png", (120, 320, 3)),
    ("cross", "_cross.png", (120, 320, 3)),
    ("tb", "_tb.png", (240, 160, 3)),
    ("anaglyph", "_anaglyph.png", (120, 160, 3)),
])
def test_each_stereo_image_mode_writes_its_layout(photo, reference_weights, tmp_path, capsys, mode, suffix, shape):
    code, err = _run(["stereo", photo, "--out", tmp_path, "--mode", mode, "--strength", "4",
                      "--weights", reference_weights, "--backend", "torch"], capsys)
    assert code == 0, err
    image = cv2.imread(str(tmp_path / f"scene{suffix}"), cv2.IMREAD_UNCHANGED)
    assert image.shape == shape and image.dtype == np.uint8
    assert "[1/1]" in err and "strength 4% = 6.4 px" in err and "done: 1 of 1" in err
    assert "60° horizontal field of view: the default (" in err  # the PNG has no EXIF: the default, and why
    with Image.open(tmp_path / f"scene{suffix}") as written:  # the file says what it is and how it was made
        text = dict(written.text)
    assert text["content"] == "stereo views rendered from relative inverse depth" and text["layout"] == mode
    assert text["strength"].startswith("4 % of the width") and text["convergence"].startswith("0.5 ")
    assert text["hole_fill"].startswith("background")
    assert text["weights_sha256"] == sha256_file(reference_weights) and text["network_size"] == "256"
    assert text["source_size"] == "160x120" and text["app_version"] == __version__
    assert text["field_of_view"].startswith("60° horizontal field of view: the default")


def test_wiggle_and_orbit_write_an_animation(photo, reference_weights, tmp_path, capsys):
    for mode in ("wiggle", "orbit"):
        code, err = _run(["stereo", photo, "--out", tmp_path, "--mode", mode, "--weights", reference_weights,
                          "--backend", "torch", "--fov", "50"], capsys)
        assert code == 0, err
        assert "convergence 0.5" in err  # the default: the middle of the range at the screen, the pivot
        assert "50° horizontal field of view, set by you" in err
        fields = describe_file(tmp_path / f"scene_{mode}.{'gif' if mode == 'wiggle' else 'mp4'}")
        assert fields["layout"] == mode and fields["strength"].startswith("3 % of the width")
        assert fields["field_of_view"] == "50° horizontal field of view, set by you"
        assert fields["weights_sha256"] == sha256_file(reference_weights) and fields["source_size"] == "160x120"
    with Image.open(tmp_path / "scene_wiggle.gif") as gif:
        assert gif.size == (160, 120) and gif.n_frames >= 2
    info = probe_video(tmp_path / "scene_orbit.mp4")
    assert (info.width, info.height, info.codec) == (160, 120, "h264") and info.duration_s == pytest.approx(4.0, abs=0.1)


def test_a_bad_input_is_reported_and_the_good_one_still_written(photo, reference_weights, tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    out = tmp_path / "out"
    code, err = _run(["stereo", bad, photo, "--out", out, "--mode", "anaglyph", "--weights", reference_weights,
                      "--backend", "torch"], capsys)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.jpg" in errors[0]
    assert (out / "scene_anaglyph.png").is_file() and not (out / "broken_anaglyph.png").exists()
    assert "done: 1 of 2 anaglyph files" in err


@pytest.mark.parametrize("argv", [
    ["--strength", "0"], ["--strength", "25"], ["--strength", "x"], ["--convergence", "2"], ["--mode", "vr"],
    ["--fov", "0"], ["--fov", "60", "--focal-px", "500"],
])
def test_bad_settings_are_usage_errors(photo, tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(["stereo", str(photo), "--out", str(tmp_path), *argv])
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err
