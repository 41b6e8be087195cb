"""The REST API of training runs and model versions (mounted under /api/ by config.api_urls)."""
