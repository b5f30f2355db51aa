"""benchmarks/repository.py: what the benchmark scripts record about the checkout they ran from."""

import subprocess

import pytest

from .helpers import benchmark_script


@pytest.fixture(scope="module")
def repository():
    return benchmark_script("repository")


def git(folder, *arguments):
    return subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t",
                           *arguments], check=True, capture_output=True, text=True).stdout.strip()


def test_commit_is_the_checkouts_short_head(repository, tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "file").write_text("x")
    git(tmp_path, "add", "file")
    git(tmp_path, "commit", "-q", "-m", "one")
    head = git(tmp_path, "rev-parse", "--short", "HEAD")
    assert repository.commit(tmp_path) == head
    assert repository.commit(tmp_path / "missing") == "unknown"


def test_commit_outside_a_checkout_is_unknown(repository, tmp_path):
    assert repository.commit(tmp_path) == "unknown"


def test_package_commit_is_the_imported_checkouts(repository):
    # The tests import the package from this checkout (an editable install).
    assert repository.package_commit() == repository.commit(repository.ROOT)
