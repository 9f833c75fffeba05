"""core/batch/inputs.py: files, folders and list files, and the output stems."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.batch.inputs import InputsError, batch_inputs, expand_inputs, unique_stems


def test_folders_expand_to_their_images_sorted_and_files_are_kept_as_given(tmp_path):
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "a.JPG").write_bytes(b"x")
    (tmp_path / "notes.md").write_text("not an image")
    assert expand_inputs([tmp_path, tmp_path / "missing.jpg"]) == [tmp_path / "a.JPG", tmp_path / "b.png",
                                                                   tmp_path / "missing.jpg"]


def test_an_empty_folder_is_an_inputs_error(tmp_path):
    with pytest.raises(InputsError, match="contains no images"):
        expand_inputs([tmp_path])


def test_a_list_file_lists_paths_relative_to_itself_and_may_name_folders(tmp_path):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "x.png").write_bytes(b"x")
    (tmp_path / "y.jpg").write_bytes(b"x")
    listing = tmp_path / "lists" / "todo.txt"
    listing.parent.mkdir()
    listing.write_text(f"# comment\n\n../pics\n  {tmp_path / 'y.jpg'}  \n../gone.png\n")
    assert batch_inputs([listing, tmp_path / "y.jpg"]) == [
        tmp_path / "lists" / ".." / "pics" / "x.png", tmp_path / "y.jpg", tmp_path / "lists" / ".." / "gone.png",
        tmp_path / "y.jpg"]


def test_an_empty_list_file_is_an_inputs_error(tmp_path):
    (tmp_path / "empty.lst").write_text("# nothing\n\n")
    with pytest.raises(InputsError, match="lists no paths"):
        batch_inputs([tmp_path / "empty.lst"])


@pytest.mark.parametrize(("names", "stems"), [
    (["a/cat.jpg", "b/cat.png", "dog.jpg"], ["cat", "cat_2", "dog"]),
    (["x.png", "x.png", "x.png"], ["x", "x_2", "x_3"]),
])
def test_repeated_stems_get_numbered(names, stems):
    assert unique_stems([Path(n) for n in names]) == stems
