"""Downloading the files of a dataset export (linked from its admin page)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404

from labeling.selectors.exports import dataset_exports_visible_to


@login_required
def export_file(request: HttpRequest, pk: int, name: str) -> FileResponse:
    """One file of a finished snapshot, for admins of its project; only the names the
    manifest lists are served, so no other path can be asked for."""
    if not request.user.has_perm("labeling.view_datasetexport"):
        raise PermissionDenied
    export = get_object_or_404(dataset_exports_visible_to(user=request.user), pk=pk)
    listed = name == "manifest.json" or name in (export.manifest or {}).get("files", {})
    if export.directory is None or not listed:
        raise Http404("No such file in this export.")
    path = export.directory / name
    if not path.is_file():
        raise Http404("The file is missing from the snapshot directory.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=name)
