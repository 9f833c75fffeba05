"""Install a checkpoint the user supplies by hand (e.g. uploaded on an offline machine).

The bytes are written to a temporary file next to the destination, read with
:func:`core.midas.checkpoint.read_checkpoint` (``weights_only=True``) and loaded into the model
(:func:`core.midas.model.create_midas_small` checks every name and shape). Only then is the
file renamed into the torch hub cache, so a bad upload never leaves a file that a later
run would pick up.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.midas.model import create_midas_small
from core.midas.checkpoint import read_checkpoint
from core.midas.config import MIDAS_SMALL
from core.midas.download import hub_checkpoint_dir
from core.midas.errors import WeightsError

__all__ = ["install_checkpoint"]


def install_checkpoint(
    data: bytes,
    *,
    source_name: str = "the uploaded file",
    dest_dir: str | os.PathLike[str] | None = None,
    file_name: str = MIDAS_SMALL.file_names[0],
) -> Path:
    """Validate checkpoint bytes and save them atomically as the cached weights.

    Args:
        data: The checkpoint file's content.
        source_name: How error messages name the file (e.g. the uploaded file name).
        dest_dir: Folder to save into; defaults to :func:`core.midas.download.hub_checkpoint_dir`,
            where :func:`core.midas.download.resolve_weights` looks.
        file_name: Name of the saved file; one of ``MIDAS_SMALL.file_names`` so that it is
            found again.

    Returns:
        The path of the installed file.

    Raises:
        TypeError: ``data`` is not bytes-like.
        WeightsError: The bytes are not a MiDaS v2.1 small checkpoint (the subclass says
            why) or the folder cannot be written; nothing is left behind.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if not file_name or Path(file_name).name != file_name:
        raise ValueError(f"file_name must be a bare file name, got {file_name!r}")
    folder = Path(dest_dir) if dest_dir is not None else hub_checkpoint_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{file_name}.", suffix=".upload")
    except OSError as e:
        raise WeightsError(
            f"Cannot save the weights in {folder} ({e}). Set TORCH_HOME to a writable folder, "
            "or set MIDAS_WEIGHTS=/path/to/the/file."
        ) from e
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            create_midas_small(read_checkpoint(tmp))  # names, shapes and dtypes are checked
        except WeightsError as e:
            # The messages name the temporary file; name what the user chose instead.
            raise type(e)(str(e).replace(str(tmp), source_name)) from e
        final = folder / file_name
        os.replace(tmp, final)
        return final
    finally:
        tmp.unlink(missing_ok=True)
