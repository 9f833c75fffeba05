"""Video in and out: decode clips to RGB frames, encode frames to browser-playable MP4.

* :mod:`core.video.reader` streams frames from MP4, MOV, WebM, MKV, AVI and animated GIF
  (PyAV), with the container's rotation applied, timestamps from the presentation times
  (variable frame rate correct) and sampling by a target fps or a frame cap. Bad input is
  refused with a :class:`~core.video.reader.VideoDecodeError` whose message is one sentence
  meant for the user.
* :mod:`core.video.writer` writes H.264 (yuv420p) MP4 that browsers play.
* :mod:`core.video.stable` aligns depth across frames so it does not flicker.
* :mod:`core.video.pipeline` runs a predictor over a clip and writes the results.
* :mod:`core.video.live` turns camera frames into depth views in real time (the Live Camera page).
* :mod:`core.video.photo3d` renders a wiggle GIF and an orbit MP4 from one photo and its depth.
"""
