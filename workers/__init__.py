"""The Celery layer: the app, thin tasks, and the one-command service."""
