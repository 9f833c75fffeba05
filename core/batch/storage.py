"""Where ``batch`` outputs go: a local folder, or any filesystem pyarrow understands (``s3://``, ``gs://``).

Every file is written atomically: to a temporary name next to it, then renamed into place
(``os.replace`` locally, ``FileSystem.move`` on pyarrow filesystems), so an interrupted run
never leaves a half-written file under a final name. A :class:`Storage` is a small picklable
value (the location as text); each process opens the filesystem on first use.

Only local folders are tested here. On object stores a "rename" is a copy and a delete: a
reader never sees a partial object under the final name, but a killed run can leave a
``.part`` object behind, which a re-run ignores.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

__all__ = ["Storage"]

_UMASK = os.umask(0o022)  # read once (os.umask can only be read by setting it), then restored
os.umask(_UMASK)


def _is_uri(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


class Storage:
    """An output folder, local or remote.

    Args:
        location: A local folder (created on :meth:`prepare`) or a URI such as
            ``s3://bucket/prefix`` (needs pyarrow).

    Example:
        >>> Storage("/tmp/out").path("cat.npy")
        '/tmp/out/cat.npy'
    """

    def __init__(self, location: str | os.PathLike[str]) -> None:
        text = os.fspath(location)
        if not isinstance(text, str) or not text:
            raise ValueError(f"location must be a folder or a URI, got {location!r}")
        self.location = text.removeprefix("file://") if text.startswith("file://") else text
        self._fs: Any = None
        self._base = ""

    def __repr__(self) -> str:
        return f"Storage({self.location!r})"

    def __getstate__(self) -> dict[str, str]:
        return {"location": self.location}  # the filesystem is reopened in each process

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["location"])

    @property
    def remote(self) -> bool:
        """True for a pyarrow filesystem URI, False for a local folder."""
        return _is_uri(self.location)

    def _filesystem(self) -> tuple[Any, str]:
        if self._fs is None:
            try:
                from pyarrow import fs as pafs
            except ImportError as e:
                raise OSError(f"writing to {self.location} needs pyarrow: pip install pyarrow, "
                              "or pass a local folder to --out") from e
            self._fs, self._base = pafs.FileSystem.from_uri(self.location)
        return self._fs, self._base.rstrip("/")

    def path(self, name: str) -> str:
        """The full path (or URI) of ``name`` inside the folder."""
        if self.remote:
            return f"{self.location.rstrip('/')}/{name}"
        return os.path.join(self.location, name)

    def prepare(self) -> None:
        """Create the folder if it is missing.

        Raises:
            OSError: It cannot be created (the message says where).
        """
        if self.remote:
            fs, base = self._filesystem()
            fs.create_dir(base, recursive=True)
        else:
            os.makedirs(self.location, exist_ok=True)

    def exists(self, name: str) -> bool:
        """Whether ``name`` exists (and, since writes are atomic, is complete)."""
        if not self.remote:
            return os.path.isfile(self.path(name))
        from pyarrow import fs as pafs

        fs, base = self._filesystem()
        return fs.get_file_info(f"{base}/{name}").type == pafs.FileType.File

    def read(self, name: str) -> bytes | None:
        """The bytes of ``name``, or None when it does not exist."""
        if not self.exists(name):
            return None
        if not self.remote:
            with open(self.path(name), "rb") as f:
                return f.read()
        fs, base = self._filesystem()
        with fs.open_input_stream(f"{base}/{name}") as f:
            return f.read()

    def put(self, local_file: str, name: str) -> str:
        """Move (or, on a pyarrow filesystem, upload) a complete local file to ``name``, atomically.

        For a local folder, ``local_file`` must be on the same filesystem (e.g. in a temporary
        folder inside it): it is renamed into place.
        """
        if not self.remote:
            os.replace(local_file, self.path(name))
            return self.path(name)
        with open(local_file, "rb") as f:
            return self.write(name, f.read())

    def write(self, name: str, data: bytes) -> str:
        """Write ``data`` to ``name`` atomically and return its full path.

        Raises:
            OSError: The folder cannot be written.
        """
        if not self.remote:
            final = self.path(name)
            fd, tmp = tempfile.mkstemp(dir=self.location, prefix=f".{name}.", suffix=".part")
            try:
                os.chmod(tmp, 0o666 & ~_UMASK)  # as an ordinary open() would create it, not mkstemp's 0600
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, final)
            except BaseException:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                raise
            return final
        fs, base = self._filesystem()
        tmp = f"{base}/.{name}.{uuid.uuid4().hex}.part"
        with fs.open_output_stream(tmp) as f:
            f.write(data)
        fs.move(tmp, f"{base}/{name}")
        return self.path(name)
