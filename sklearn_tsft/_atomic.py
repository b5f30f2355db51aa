"""Writing a directory or a file so that its path never holds a partial version.

Everything is written under a new name beside the target and renamed into
place once complete, so a crash (a kill, a full disk, a raised error) leaves
the previous content where it was. Replacing a directory takes two renames
(the old one aside, the new one in); a crash between them leaves no
directory at the path, which readers refuse, never a mix of the two.
"""

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path, PurePosixPath


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


def unexpected_entries(root, listed, manifest):
    """What lies under ``root`` that a writer's file list does not account for.

    Parameters
    ----------
    root : pathlib.Path
    listed : dict of str to dict, or None
        ``{relative path: {"size": int, ...}}`` as the writer recorded it;
        None when no readable list was found (then everything is unexpected).
    manifest : str
        The name of the file that holds the list (expected, size unchecked).

    Returns
    -------
    entries : list of str
        Files not listed, listed files whose size changed, links, and
        folders that hold no listed file; empty when the directory holds
        exactly what was written.
    """
    listed = listed or {}
    allowed = set(listed) | ({manifest} if listed else set())
    folders = {parent.as_posix() for name in allowed for parent in PurePosixPath(name).parents}
    found = []
    for entry in sorted(root.rglob("*")):
        name = entry.relative_to(root).as_posix()
        if entry.is_symlink():
            found.append(f"{name} (a link)")
        elif entry.is_dir():
            if name not in folders:
                found.append(f"{name}/")
        elif name not in allowed:
            found.append(name)
        elif name in listed and entry.stat().st_size != listed[name].get("size"):
            found.append(f"{name} (changed since it was written)")
    return found


def unexpected_beside_manifest(root, manifest):
    """:func:`unexpected_entries` of ``root`` against the file list in its JSON ``manifest``.

    The list is the manifest's ``"files"`` entry; a manifest that is
    missing or unreadable lists nothing, so everything is unexpected.
    """
    try:
        listed = json.loads((Path(root) / manifest).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        listed = None
    return unexpected_entries(Path(root), listed if isinstance(listed, dict) else None,
                              manifest)


def target_path(path):
    """``path`` made absolute, through a link to the directory it names."""
    path = Path(os.path.abspath(os.fspath(path)))
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_replaceable(path, unexpected):
    """Raise ``ValueError`` unless :func:`replacing_directory` may write ``path``.

    ``unexpected(existing_directory)`` lists what is there that this
    writer did not write (see :func:`unexpected_entries`).
    """
    path = target_path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{str(path)!r} is a file; give the path of a directory to write.")
    if path.is_dir() and any(path.iterdir()):
        found = unexpected(path)
        if found:
            shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10
                                              else "")
            raise ValueError(
                f"{str(path)!r} is a non-empty directory that this writer did not write (or "
                f"not only: it holds {shown}); refusing to replace it. Move those away, or "
                "choose a new or empty directory."
            )


@contextlib.contextmanager
def replacing_directory(path, unexpected):
    """Yield an empty staging directory that replaces ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        The directory to create or replace; its parent is created if needed.
        A link to a directory replaces the directory it points to (the
        link stays); ``"."`` replaces the working directory, and the process
        is then in the new one.
    unexpected : callable
        ``unexpected(existing_path) -> list of str``: what a non-empty
        directory already at ``path`` holds that this writer did not write
        before (see :func:`unexpected_entries`). Unless that is nothing,
        the directory is refused with a ``ValueError`` naming those
        entries, before anything is written.

    Yields
    ------
    staging : pathlib.Path
        Where to write the new content.
    """
    path = target_path(path)
    check_replaceable(path, unexpected)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _sibling(path, "writing")
    staging.mkdir()
    inside = _is_working_directory(path)
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
    if inside:
        os.chdir(path)


def _is_working_directory(path):
    try:
        return path.exists() and os.path.samefile(path, os.getcwd())
    except OSError:  # the working directory itself is gone
        return False


@contextlib.contextmanager
def replacing_file(path):
    """Yield a staging file path that replaces ``path`` (atomically) on success."""
    path = target_path(path)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory; give the path of a file to write.")
    staging = _sibling(path, "writing")
    try:
        yield staging
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
