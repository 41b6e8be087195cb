"""`manage.py serve_model`: run the local vLLM server and keep it up, adapters included."""

import logging
import signal

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from serving.config import local_server_config, server_urls, uses_local_server
from serving.vllm.client import ServingError, VLLMClient
from serving.vllm.launcher import Supervisor
from training.selectors.versions import adapters_to_serve

logger = logging.getLogger("serving.serve_model")


def adapters_load(client: VLLMClient) -> None:
    """on_ready: load every adapter that should be served onto the (re)started server."""
    close_old_connections()
    try:
        adapters = adapters_to_serve()
    finally:
        close_old_connections()
    loaded = 0
    for adapter in adapters:
        try:
            client.load_adapter(name=adapter.name, path=adapter.path)
        except ServingError as exc:
            if exc.status_code is None:  # no answer at all: on_ready is tried again
                raise
            # The server refused this one (its directory is gone, its rank is too high...):
            # serve the others.
            logger.warning("Adapter %s (%s) not loaded: %s", adapter.name, adapter.path, exc)
        else:
            loaded += 1
            logger.info("Adapter %s loaded from %s", adapter.name, adapter.path)
    logger.info("%d of %d adapter(s) loaded on %s", loaded, len(adapters), client.base_url)


class Command(BaseCommand):
    help = (
        "Start the local vLLM server with the base model, load the adapters of the live and "
        "recent model versions, and restart it (adapters included) whenever it dies. Runs in "
        "the foreground until stopped. Does nothing when VLLM_URLS names servers to use."
    )

    def handle(self, *args, **options) -> None:
        if not uses_local_server():
            self.stdout.write(
                "VLLM_URLS is set; using the configured servers: "
                + ", ".join(server_urls())
                + ". Beside each, `python -m serving.vllm.agent` keeps its adapters loaded "
                "(docs/deploy.md)."
            )
            return
        config = local_server_config()
        if not (config.model_dir / "config.json").is_file():
            raise CommandError(
                f"No model in {config.model_dir}: run scripts/setup.sh (it prepares the "
                "bundled model) or set BASE_MODEL_DIR to a Hugging Face model directory."
            )
        if not config.python.exists():
            raise CommandError(f"No vLLM virtualenv at {config.python}: run scripts/setup.sh.")

        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per health poll otherwise
        supervisor = Supervisor(config, on_ready=adapters_load)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: supervisor.stop())
        self.stdout.write(
            f"Serving {config.served_name} from {config.model_dir} on {config.url} "
            f"({'CPU' if config.cpu else 'GPU'}; vLLM log: {config.log_file})"
        )
        supervisor.run()
