"""``python -m core video``: good clips written, one line per bad file, exit codes as for ``predict``."""
from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from core.cli import main
from tests.conftest import REPO
from tests.video.clips import make_clip, make_gif

OUTPUTS = ("_depth.mp4", "_side_by_side.mp4", "_depth.npz", "_depth.npz.json")  # the .json: issue 14, item 4


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _frames(path):
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_good_clips_written_and_one_line_for_the_bad_file(reference_weights, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    walk = make_clip(inputs / "walk.mp4", 6, 10, (64, 48))
    phone = make_clip(inputs / "phone.mov", 4, 10, (48, 32), rotation=90)
    bad = inputs / "notes.mp4"
    bad.write_text("shopping list: milk, eggs\n")  # a text file named .mp4
    out = tmp_path / "out"
    code, stdout, err = _run(["video", walk, bad, phone, "--out", out, "--weights", reference_weights,
                              "--backend", "torch", "--colormap", "turbo"], capsys)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "notes.mp4" in errors[0], err
    assert "Traceback" not in err
    assert "done: 2 of 3 videos written to" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}{o}" for s in ("walk", "phone") for o in OUTPUTS)
    assert _frames(out / "walk_depth.mp4") == 6 and _frames(out / "phone_side_by_side.mp4") == 4
    with np.load(out / "phone_depth.npz") as npz:
        assert npz["depth"].shape == (4, 48, 32)  # rotated to the displayed size
    # the flicker figure, per-frame against stable, one line per good clip on stdout
    lines = stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(str(walk)) and lines[1].startswith(str(phone))
    assert all("per-frame 0." in line and ", stable 0." in line for line in lines), stdout
    assert f"[1/3] {walk} depth: frame 6/6," in err and f"[3/3] {phone} encoding: frame 4/4," in err  # progress


def test_a_folder_sampling_and_per_frame_mode(reference_weights, tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    make_clip(folder / "a.mkv", 10, 10, (64, 48))
    make_gif(folder / "b.gif", 5, (40, 30))
    (folder / "readme.txt").write_text("not a clip")  # not a video suffix: not an input
    out = tmp_path / "out"
    code, stdout, err = _run(["video", folder, "--out", out, "--weights", reference_weights, "--backend", "torch",
                              "--mode", "per-frame", "--fps", "5", "--max-frames", "4"], capsys)
    assert code == 0, err
    assert "done: 2 of 2 videos written to" in err
    with np.load(out / "a_depth.npz") as npz:
        np.testing.assert_allclose(npz["timestamps"], [0.0, 0.2, 0.4, 0.6], atol=1e-3)
    assert _frames(out / "a_depth.mp4") == 4
    assert all("(run with --mode stable to compare)" in line for line in stdout.splitlines())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--fps", "0"], "--fps: expected a positive float"),
        (["--max-frames", "2.5"], "--max-frames: expected a positive int"),
        (["--mode", "smooth"], "invalid choice: 'smooth'"),
        (["--size", "100"], "--size"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["video", str(tmp_path / "x.mp4"), "--out", str(tmp_path / "out"), *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_folder_without_videos_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "photo.png").write_bytes(b"")
    code, _, err = _run(["video", tmp_path, "--out", tmp_path / "out"], capsys)
    assert code == 2
    assert f"error: folder {tmp_path} contains no videos (.avi, .gif," in err


def test_python_m_core_video_runs_as_a_program(reference_weights, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", 3, 10, (32, 24))
    run = subprocess.run(
        [sys.executable, "-m", "core", "video", str(clip), str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o"),
         "--weights", str(reference_weights), "--backend", "torch"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "missing.mp4" in errors[0], run.stderr
    assert (tmp_path / "o" / "clip_depth.npz").is_file()
    assert "flicker" in run.stdout
