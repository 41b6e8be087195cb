from django.db import migrations, models


def _content_type_move(apps, schema_editor, *, src: str, dst: str) -> None:
    """Keep the admin history and the permissions groups hold: they point at the type."""
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label=dst, model="modelserver").exists():
        content_type.objects.filter(app_label=src, model="modelserver").update(app_label=dst)


def content_type_forward(apps, schema_editor) -> None:
    _content_type_move(apps, schema_editor, src="training", dst="serving")


def content_type_backward(apps, schema_editor) -> None:
    _content_type_move(apps, schema_editor, src="serving", dst="training")


class Migration(migrations.Migration):
    """Takes over training's ModelServer in state only: the table training_modelserver, made
    by training/migrations/0002_modelserver, is kept with its rows."""

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("training", "0007_modelserver_to_serving"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ModelServer",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("url", models.CharField(max_length=500, unique=True)),
                        (
                            "state",
                            models.CharField(
                                choices=[("unknown", "Unknown"), ("up", "Up"), ("down", "Down")],
                                default="unknown",
                                max_length=16,
                            ),
                        ),
                        ("last_checked_at", models.DateTimeField(blank=True, null=True)),
                        ("last_ok_at", models.DateTimeField(blank=True, null=True)),
                        ("last_error", models.TextField(blank=True)),
                        ("consecutive_failures", models.PositiveIntegerField(default=0)),
                        (
                            "next_retry_at",
                            models.DateTimeField(
                                blank=True,
                                help_text="While down: no request is sent before this time.",
                                null=True,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "training_modelserver",
                        "ordering": ["url"],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_forward, content_type_backward),
    ]
