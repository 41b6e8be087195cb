"""Snapshot directories are named by a UUID: existing exports get one each, and keep the
directory they were written to (their `path`)."""

import uuid

from django.db import migrations, models


def uids_fill(apps, schema_editor):
    DatasetExport = apps.get_model("labeling", "DatasetExport")
    for export in DatasetExport.objects.filter(uid__isnull=True).only("pk"):
        export.uid = uuid.uuid4()
        export.save(update_fields=["uid"])


class Migration(migrations.Migration):
    dependencies = [("labeling", "0008_gold_every_annotator")]

    operations = [
        migrations.AddField(
            model_name="datasetexport",
            name="uid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(uids_fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="datasetexport",
            name="uid",
            field=models.UUIDField(
                default=uuid.uuid4,
                editable=False,
                help_text="Names the snapshot directory, so that two databases' exports never meet.",
                unique=True,
            ),
        ),
    ]
