"""What to process: inputs given as files, folders and list files, and each one's output stem.

``predict`` and ``batch`` share these, so an input yields files of the same names with either.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "LIST_SUFFIXES", "InputsError", "batch_inputs", "expand_inputs", "unique_stems"]

#: Image files a folder is searched for (by extension; the decoder sniffs the content).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
#: A ``batch`` input with one of these extensions is a text file listing paths, one a line.
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})


class InputsError(ValueError):
    """The inputs cannot be turned into a list of files (a usage error, not a bad image)."""


def expand_inputs(
    inputs: Iterable[str | Path], suffixes: frozenset[str] = IMAGE_SUFFIXES, kind: str = "images"
) -> list[Path]:
    """Files as given, plus the files with one of ``suffixes`` directly inside each folder (sorted by name).

    A missing file is kept: it is reported per input, like any other bad input.

    Raises:
        InputsError: A folder holds no file with one of ``suffixes``.
    """
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                raise InputsError(f"folder {path} contains no {kind} ({', '.join(sorted(suffixes))})")
            paths.extend(found)
        else:
            paths.append(path)
    return paths


def batch_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """:func:`expand_inputs`, where a ``.txt``/``.lst``/``.list`` input lists more inputs, one a line.

    In a list, blank lines and lines starting with ``#`` are skipped, and a relative path is
    relative to the list file's folder. Listed folders are expanded; listed list files are not.

    Raises:
        InputsError: A list file cannot be read or lists nothing, or a folder holds no images.
    """
    items: list[str | Path] = []
    for item in inputs:
        path = Path(item)
        if path.suffix.lower() in LIST_SUFFIXES and path.is_file():
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as e:
                raise InputsError(
                    f"cannot read the list file {path} ({e}): pass a UTF-8 text file, one path a line") from e
            listed = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
            if not listed:
                raise InputsError(f"the list file {path} lists no paths: put one image path on each line")
            items.extend(p if Path(p).is_absolute() else path.parent / p for p in listed)
        else:
            items.append(path)
    return expand_inputs(items)


def unique_stems(paths: Sequence[Path]) -> list[str]:
    """Each path's stem, with ``_2``, ``_3``, ... added to repeats, so no two inputs share output files.

    Example:
        >>> unique_stems([Path("a/cat.jpg"), Path("b/cat.png"), Path("dog.jpg")])
        ['cat', 'cat_2', 'dog']
    """
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        count = seen.get(path.stem, 0)
        seen[path.stem] = count + 1
        stems.append(path.stem if count == 0 else f"{path.stem}_{count + 1}")
    return stems
