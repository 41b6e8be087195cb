"""Content of the demo project that `manage.py seed_demo` creates: guidelines and prompts."""
