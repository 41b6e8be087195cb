from django.db import migrations


class Migration(migrations.Migration):
    """ModelServer moved to the serving app: training forgets it, its table stays
    (serving/migrations/0001_initial takes it over under the same name)."""

    dependencies = [
        ("training", "0006_modelversion_replaced"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ModelServer")],
            database_operations=[],
        ),
    ]
