"""Writing a directory or a file so that its path never holds a partial version.

Everything is written under a new name beside the target and renamed into
place once complete, so a crash (a kill, a full disk, a raised error) leaves
the previous content where it was. Replacing a directory takes two renames
(the old one aside, the new one in); a crash between them leaves no
directory at the path, which readers refuse, never a mix of the two.
"""

import contextlib
import os
import shutil
import uuid
from pathlib import Path


def _sibling(path, role):
    return path.with_name(f".{path.name}.{role}-{uuid.uuid4().hex[:12]}")


def _match_umask(root):
    """Give every file under ``root`` the mode a newly created file gets.

    Some writers (safetensors) create files readable by their owner only;
    a saved model is meant to be readable as any other file the user writes.
    """
    probe = root / f".mode-{uuid.uuid4().hex[:8]}"
    probe.touch()
    mode = probe.stat().st_mode & 0o777
    probe.unlink()
    for file in root.rglob("*"):
        if file.is_file():
            os.chmod(file, mode)


def check_replaceable(path, may_replace):
    """Raise ``ValueError`` unless :func:`replacing_directory` may write ``path``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{str(path)!r} is a file; give the path of a directory to write.")
    if path.is_dir() and any(path.iterdir()) and not may_replace(path):
        raise ValueError(
            f"{str(path)!r} is a non-empty directory that this writer did not write; "
            "refusing to replace it. Choose a new or empty directory."
        )


@contextlib.contextmanager
def replacing_directory(path, may_replace):
    """Yield an empty staging directory that replaces ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        The directory to create or replace; its parent is created if needed.
    may_replace : callable
        ``may_replace(existing_path) -> bool``: whether a non-empty directory
        already at ``path`` may be replaced (it is what this writer wrote
        before). Anything else there is refused with a ``ValueError``,
        before anything is written.

    Yields
    ------
    staging : pathlib.Path
        Where to write the new content.
    """
    path = Path(path)
    check_replaceable(path, may_replace)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling(path, "writing")
    staging.mkdir()
    try:
        yield staging
        _match_umask(staging)
        if path.exists():
            retired = _sibling(path, "replaced")
            os.rename(path, retired)
            os.rename(staging, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def replacing_file(path):
    """Yield a staging file path that replaces ``path`` (atomically) on success."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory; give the path of a file to write.")
    staging = _sibling(path, "writing")
    try:
        yield staging
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
