"""E-mail: `service.send_email` stores and delivers, `due` retries, `models` holds the rows.

Kept import-free so that loading the models (migrations, billing) does not pull
in Flask or the task queue.
"""
