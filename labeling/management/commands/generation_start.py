from django.core.management.base import BaseCommand

from labeling.services.generation_schedule import generation_start


class Command(BaseCommand):
    help = (
        "Start pre-generation of completions: enqueue the periodic generation tick (queue "
        "'generation') unless one is pending, and bring a pending one forward. Idempotent."
    )

    def handle(self, *args, **options):
        if generation_start():
            self.stdout.write("Enqueued the generation tick.")
        else:
            self.stdout.write("A generation tick was already pending; it runs now.")
