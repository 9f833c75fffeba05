"""Tests for core.video.reader: clips made with PyAV (tests/video/clips.py), then every hostile case."""

from __future__ import annotations

import inspect
from pathlib import Path

import av
import numpy as np
import pytest

from core.video.reader import (
    MAX_VIDEO_PIXELS,
    MAX_VIDEO_SECONDS,
    Sampling,
    VideoDecodeError,
    VideoInfo,
    probe_video,
    read_frames,
)
from tests.video import clips

SIZE = (64, 48)  # (width, height) of most test clips


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images, in grey levels."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _square_center_x(rgb: np.ndarray) -> float:
    """Column centre of the white square (the only near-white pixels in the scene)."""
    white = (rgb >= 235).all(axis=2)
    return float(np.nonzero(white)[1].mean())


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return clips.make_clip(tmp_path / "static_camera.mp4", 10, 10, SIZE)


# --- a static camera with a moving square -------------------------------------------------


def test_every_frame_decodes_with_its_time_and_pixels(clip: Path) -> None:
    frames = list(read_frames(clip))
    assert [f.index for f in frames] == list(range(10))
    assert [f.timestamp_s for f in frames] == pytest.approx([k / 10 for k in range(10)], abs=1e-6)
    for f in frames:
        assert f.rgb.shape == (48, 64, 3) and f.rgb.dtype == np.uint8
        assert _mad(f.rgb, clips.scene_frame(f.index, 10, SIZE)) < 4.0  # H.264 at crf 23: a few levels
    xs = [_square_center_x(f.rgb) for f in frames]
    assert all(b > a for a, b in zip(xs, xs[1:]))  # the square moves left to right
    first, last = frames[0].rgb[:12].astype(np.int16), frames[-1].rgb[:12].astype(np.int16)
    assert np.abs(first - last).mean() < 2.0  # the top rows, which the square never covers, stay put


def test_bytes_and_path_give_the_same_frames(clip: Path) -> None:
    from_path = [f.rgb for f in read_frames(clip)]
    from_bytes = [f.rgb for f in read_frames(clip.read_bytes())]
    assert len(from_path) == len(from_bytes) == 10
    assert all(np.array_equal(a, b) for a, b in zip(from_path, from_bytes))


def test_probe_describes_the_clip(clip: Path) -> None:
    assert probe_video(clip) == VideoInfo(
        width=64, height=48, fps=10.0, duration_s=1.0, frames=10, rotation_deg=0, codec="h264", container="mp4"
    )


def test_read_frames_is_lazy_and_streams(clip: Path) -> None:
    it = read_frames(clip)
    assert inspect.isgenerator(it)  # nothing decoded (nor checked) before the first next()
    first = next(it)
    assert first.index == 0
    it.close()  # stopping early closes the file; nothing else is held


def test_memory_stays_flat_however_long_the_clip(tmp_path: Path) -> None:
    import weakref

    path = clips.make_clip(tmp_path / "longer.mp4", 60, 30, SIZE)
    seen: list[weakref.ref] = []
    most_alive = 0
    for frame in read_frames(path):
        seen.append(weakref.ref(frame.rgb))
        del frame  # frames hold no reference cycles: refcounting frees them at once
        most_alive = max(most_alive, sum(ref() is not None for ref in seen))
    assert len(seen) == 60
    assert most_alive <= 1  # the reader keeps no frame the caller has let go of


# --- rotation (phone clips) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "shape", "marker_corner"),
    [
        (90, (64, 48, 3), (-1, 0)),  # counter-clockwise quarter turn: the top-left corner goes bottom-left
        (-90, (64, 48, 3), (0, -1)),  # clockwise (an iPhone portrait clip): top-left goes top-right
        (180, (48, 64, 3), (-1, -1)),
    ],
)
def test_rotation_is_applied(tmp_path: Path, rotation: int, shape: tuple, marker_corner: tuple) -> None:
    path = clips.make_clip(tmp_path / "phone.mov", 4, 10, SIZE, rotation=rotation)
    info = probe_video(path)
    assert (info.height, info.width, 3) == shape
    assert info.rotation_deg == rotation
    frames = list(read_frames(path))
    assert len(frames) == 4
    for f in frames:
        assert f.rgb.shape == shape
        expected = np.rot90(clips.scene_frame(f.index, 4, SIZE), rotation // 90)
        assert _mad(f.rgb, expected) < 4.0
    r, c = marker_corner
    assert frames[0].rgb[r, c].tolist() == pytest.approx([0, 255, 0], abs=12)  # the green marker


# --- variable frame rate and sampling -----------------------------------------------------

VFR_TIMES = [0.0, 0.1, 0.15, 0.5, 0.6]


def test_variable_frame_rate_times_come_from_timestamps(tmp_path: Path) -> None:
    path = clips.make_clip(tmp_path / "vfr.mp4", 5, 10, SIZE, vfr_timestamps=VFR_TIMES)
    assert [f.timestamp_s for f in read_frames(path)] == pytest.approx(VFR_TIMES, abs=1e-3)
    info = probe_video(path)
    assert info.frames == 5 and info.duration_s == pytest.approx(0.7, abs=1e-3)  # last frame lasts 1/10 s


def test_sampling_by_fps_uses_timestamps_not_frame_counts(tmp_path: Path) -> None:
    path = clips.make_clip(tmp_path / "vfr.mp4", 5, 10, SIZE, vfr_timestamps=VFR_TIMES)
    # 5 fps = steps at 0, 0.2, 0.4, 0.6: 0.0 fills step 0; 0.1 and 0.15 come before 0.2;
    # 0.5 is the first at or after 0.2 (fills up to step 2); 0.6 fills step 3.
    frames = list(read_frames(path, Sampling(fps=5)))
    assert [f.index for f in frames] == [0, 3, 4]
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 0.5, 0.6], abs=1e-3)


@pytest.mark.parametrize(
    ("sampling", "indices"),
    [
        (Sampling(), list(range(12))),
        (Sampling(fps=10), [0, 3, 6, 9]),  # 30 fps -> every third frame
        (Sampling(fps=60), list(range(12))),  # above the clip's rate: every frame
        (Sampling(max_frames=5), [0, 1, 2, 3, 4]),
        (Sampling(fps=15, max_frames=3), [0, 2, 4]),
    ],
)
def test_sampling_at_constant_rate(tmp_path: Path, sampling: Sampling, indices: list[int]) -> None:
    path = clips.make_clip(tmp_path / "30fps.mp4", 12, 30, SIZE)
    frames = list(read_frames(path, sampling))
    assert [f.index for f in frames] == indices
    assert [f.timestamp_s for f in frames] == pytest.approx([k / 30 for k in indices], abs=1e-6)


@pytest.mark.parametrize("bad", [{"fps": 0}, {"fps": -1.0}, {"fps": float("nan")}, {"max_frames": 0}, {"max_frames": 2.5}])
def test_bad_sampling_is_a_value_error(bad: dict) -> None:
    with pytest.raises(ValueError, match="Sampling"):
        Sampling(**bad)


def test_wrong_input_types_are_type_errors(clip: Path) -> None:
    with pytest.raises(TypeError, match="bytes or a path"):
        next(read_frames(12345))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Sampling"):
        read_frames(clip, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pixels"):
        probe_video(clip, max_pixels=0)


# --- sizes, containers, codecs, GIF -------------------------------------------------------


def test_odd_sizes_decode_at_their_size(tmp_path: Path) -> None:
    path = clips.make_clip(tmp_path / "odd.mp4", 3, 10, (63, 47))
    assert (probe_video(path).width, probe_video(path).height) == (63, 47)
    frames = list(read_frames(path))
    assert [f.rgb.shape for f in frames] == [(47, 63, 3)] * 3
    assert _mad(frames[1].rgb, clips.scene_frame(1, 3, (63, 47))) < 4.0


@pytest.mark.parametrize(
    ("name", "codec", "container", "decoded_codec"),
    [
        ("clip.mov", "libx264", "mov", "h264"),  # a QuickTime brand ("qt  "), as iPhones write
        ("clip.mkv", "libx264", "matroska", "h264"),
        ("clip.webm", "libvpx-vp9", "matroska", "vp9"),
        ("clip.avi", "mpeg4", "avi", "mpeg4"),
    ],
)
def test_other_containers_and_codecs(tmp_path: Path, name: str, codec: str, container: str, decoded_codec: str) -> None:
    path = clips.make_clip(tmp_path / name, 4, 10, SIZE, codec=codec)
    info = probe_video(path)
    assert (info.container, info.codec, info.width, info.height) == (container, decoded_codec, 64, 48)
    frames = list(read_frames(path))
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3], abs=1e-3)
    assert _mad(frames[2].rgb, clips.scene_frame(2, 4, SIZE)) < 8.0


def test_animated_gif_with_transparency_on_white(tmp_path: Path) -> None:
    data = clips.make_gif(tmp_path / "anim.gif", 4, (40, 30), durations_ms=[100, 200, 100, 100], transparent=True)
    info = probe_video(data)
    assert (info.codec, info.container, info.width, info.height, info.frames) == ("gif", "gif", 40, 30, 4)
    frames = list(read_frames(data))
    assert [f.timestamp_s for f in frames] == pytest.approx([0.0, 0.1, 0.3, 0.4])
    for f in frames:
        assert f.rgb.shape == (30, 40, 3)
        assert (f.rgb[:15, 20:] == 255).all()  # the transparent quarter, composited on white
        opaque = clips.scene_frame(f.index, 4, (40, 30))[15:, :20]
        assert _mad(f.rgb[15:, :20], opaque) < 6.0  # palette quantisation


# --- hostile input: one clear sentence each -------------------------------------------------


def _refusal(data_or_path) -> str:
    """The message both probe_video and read_frames give; they must agree."""
    with pytest.raises(VideoDecodeError) as probed:
        probe_video(data_or_path)
    with pytest.raises(VideoDecodeError) as read:
        list(read_frames(data_or_path))
    assert str(read.value) == str(probed.value)
    message = str(probed.value)
    assert message.endswith(".") and "\n" not in message and len(message) < 240
    return message


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("Meeting notes\n- bring the camera\n- try the depth demo\n", encoding="utf-8")
    assert _refusal(path) == (
        "This file is text, not a video: choose an MP4, MOV, WebM, MKV, AVI or animated GIF file."
    )


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_mp4_without_its_index(clip: Path, keep: float) -> None:
    data = clip.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat")  # the index is written last, so a cut loses it
    message = _refusal(data[: int(len(data) * keep)])
    assert message.startswith("This MP4/MOV file is truncated or corrupt")
    assert "upload the complete file" in message


def test_truncated_mp4_with_its_index_first_fails_part_way(tmp_path: Path) -> None:
    from core.video.writer import Mp4Writer

    rng = np.random.default_rng(0)
    path = tmp_path / "faststart.mp4"
    with Mp4Writer(path, 10, 64, 48) as out:
        for _ in range(20):
            out.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))  # noise: every frame is big
    data = path.read_bytes()
    cut = data[: int(len(data) * 0.6)]
    assert probe_video(cut).frames == 20  # the index is intact, the first frame decodes
    with pytest.raises(VideoDecodeError, match=r"^This video is truncated") as refused:
        list(read_frames(cut))
    assert str(refused.value).endswith("download or export it again and upload the complete file.")


def test_truncated_at_a_packet_boundary_is_still_refused(tmp_path: Path) -> None:
    from core.video.writer import Mp4Writer

    path = tmp_path / "faststart.mp4"
    with Mp4Writer(path, 10, 64, 48) as out:
        for k in range(10):
            out.write(clips.scene_frame(k, 10, SIZE))
    with av.open(str(path)) as container:  # where each frame's data starts
        starts = sorted(p.pos for p in container.demux(video=0) if p.pos is not None and p.pos >= 0)
    cut = path.read_bytes()[: starts[7]]  # frames 0..6 complete, nothing after: no decoder error
    with pytest.raises(VideoDecodeError) as refused:
        list(read_frames(cut))
    assert str(refused.value) == (
        "This video is truncated: it declares 10 frames but its data ends after 7; "
        "download or export it again and upload the complete file."
    )


def test_random_bytes() -> None:
    data = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert _refusal(data).startswith("This file is not a video that can be read, or it is truncated or corrupt")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert _refusal(path) == "empty.mp4 is empty: choose the video file again."
    assert _refusal(b"") == "The file is empty: choose the video file again."


def test_missing_file(tmp_path: Path) -> None:
    message = _refusal(tmp_path / "nowhere.mp4")
    assert message.startswith("Cannot read nowhere.mp4: ") and message.endswith("check the path.")


def test_audio_only(tmp_path: Path) -> None:
    path = clips.make_audio_only(tmp_path / "voice.mp4")
    assert _refusal(path) == "This file holds only audio, no video: choose a file with a video track."


def test_zero_frames(tmp_path: Path) -> None:
    path = clips.make_zero_frames(tmp_path / "empty_stream.avi")
    assert _refusal(path) == "This video contains no frames: record or export it again and upload the new file."


def test_unsupported_codec(tmp_path: Path) -> None:
    path = clips.make_unknown_codec(tmp_path / "exotic.mp4")
    message = _refusal(path)
    assert message.startswith("This video uses a codec that cannot be decoded here: convert it to H.264 MP4")
    assert "ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4" in message


def test_8k_is_refused_before_any_frame_is_decoded(tmp_path: Path) -> None:
    # The coded pictures are zeroed: decoding any frame would fail, so the size message
    # proves the refusal came from the header alone.
    path = clips.make_blank(tmp_path / "8k.mp4", (7680, 4320), scrub_pixels=True)
    assert _refusal(path) == (
        "This video is 7680x4320 pixels and 8K (7680x4320) or larger videos are refused: "
        "scale it down (4K, 3840x2160, or smaller is plenty) and upload it again."
    )
    assert MAX_VIDEO_PIXELS == 7680 * 4320 - 1


def test_pixel_limit_is_a_parameter(clip: Path) -> None:
    assert probe_video(clip, max_pixels=64 * 48).width == 64  # at the limit: accepted
    with pytest.raises(VideoDecodeError, match=r"^This video is 64x48 pixels and the limit is 3,071 pixels per frame"):
        probe_video(clip, max_pixels=64 * 48 - 1)
    with pytest.raises(VideoDecodeError, match="3,071 pixels"):
        next(read_frames(clip, max_pixels=64 * 48 - 1))


def test_longer_than_the_default_limit(tmp_path: Path) -> None:
    # Three frames spread over 11 minutes: cheap to make, long to play.
    path = clips.make_clip(tmp_path / "long.mp4", 3, 1, SIZE, vfr_timestamps=[0.0, 330.0, 660.0])
    assert MAX_VIDEO_SECONDS == 600.0
    message = _refusal(path)
    assert message.startswith("This video is 11 min 1 s long, over the 10 min limit: trim it, or read only its start")
    assert "with a frame cap" in message


def test_length_limit_names_a_frame_cap_that_works(clip: Path) -> None:
    with pytest.raises(VideoDecodeError) as refused:
        list(read_frames(clip, max_seconds=0.5))
    assert str(refused.value) == (
        "This video is 1 s long, over the 0.5 s limit: trim it, or read only its start "
        "with a frame cap, e.g. at most 5 frames at 10 fps."
    )
    # Following the advice: a cap that stops reading within the limit is accepted.
    frames = list(read_frames(clip, Sampling(max_frames=5), max_seconds=0.5))
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    with pytest.raises(VideoDecodeError, match="over the 0.5 s limit"):
        next(read_frames(clip, Sampling(max_frames=6), max_seconds=0.5))
    assert len(list(read_frames(clip, max_seconds=None))) == 10  # None: no limit
