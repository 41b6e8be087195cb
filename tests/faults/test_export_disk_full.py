"""The disk full while an export writes: the export fails saying so, no snapshot (complete-looking
or temporary) is left, the space it took is given back, and once there is room again the same
export is made in full. The disk is a real one: a tiny tmpfs mounted for the test."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from labeling.models import DatasetExport
from labeling.services.exports import (
    dataset_export_again,
    dataset_export_create,
    dataset_export_run,
    snapshot_directory,
)
from tests.labeling.exports.conftest import annotators, mixed_project, project  # noqa: F401

pytestmark = pytest.mark.django_db

PAGE = 4096  # tmpfs counts space in pages: every file holding data takes at least one


class Disk:
    """A mounted tmpfs of `size` bytes that a filler file can make (nearly) full."""

    def __init__(self, mount_point: Path):
        self.mount_point = mount_point
        self.filler = mount_point / "filler"

    def free_bytes(self) -> int:
        stat = os.statvfs(self.mount_point)
        return stat.f_bavail * stat.f_frsize

    def fill(self, *, leave: int) -> None:
        with self.filler.open("ab") as out:
            while self.free_bytes() > leave:
                out.write(b"\0" * min(self.free_bytes() - leave, 1 << 16))
                out.flush()
        assert self.free_bytes() == leave

    def free_up(self) -> None:
        self.filler.unlink()


@pytest.fixture
def small_disk(tmp_path, settings):
    """EXPORTS_DIR on a 1 MiB tmpfs; unmounted afterwards."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs for a real full disk needs root and mount(8)")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (a real full disk): {mounted.stderr.strip()}")
    settings.EXPORTS_DIR = mount_point / "exports"
    try:
        yield Disk(mount_point)
    finally:
        if subprocess.run(["umount", str(mount_point)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount_point)], check=False)


def files_of(slug: str = "shop") -> list[str]:
    root = Path(django_settings.EXPORTS_DIR) / slug
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


def snapshot_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.iterdir())


@pytest.mark.parametrize("parquet", [False, True], ids=["jsonl", "parquet"])
def test_an_export_on_a_full_disk_fails_saying_so_and_leaves_nothing(
    mixed_project,  # noqa: F811
    small_disk,
    parquet,
):
    (Path(django_settings.EXPORTS_DIR) / "shop").mkdir(parents=True)
    small_disk.fill(leave=PAGE)  # room for one page: a snapshot holds several files of data

    export = dataset_export_create(project=mixed_project, format="preference", parquet=parquet)
    export = dataset_export_run(export=export)

    assert export.status == DatasetExport.Status.FAILED
    assert export.error.startswith("the disk is full"), export.error
    assert str(django_settings.EXPORTS_DIR) in export.error and "start the export" in export.error
    assert (export.path, export.content_hash, export.rows_total) == ("", "", 0)
    assert files_of() == []  # neither the snapshot nor its temporary directory
    assert not snapshot_directory(export).exists()
    assert small_disk.free_bytes() == PAGE  # no file of it is left holding space

    small_disk.free_up()
    again = dataset_export_run(export=dataset_export_again(export=export, created_by=None))

    assert again.status == DatasetExport.Status.DONE, again.error
    assert again.rows_total > 0 and files_of() == [str(again.uid)]
    assert snapshot_bytes(again.directory) > PAGE  # it could never have fitted
    assert DatasetExport.objects.get(pk=export.pk).status == DatasetExport.Status.FAILED
