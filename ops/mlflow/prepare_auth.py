"""Get MLflow's basic-auth app ready before the compose `mlflow` server starts (its command runs this).

1. Writes the auth configuration (MLFLOW_AUTH_CONFIG_PATH, mode 600): users and permissions live in
   the `mlflow` PostgreSQL database beside the tracking store (their own alembic table), and an
   authenticated user may read everything but change only what it created or was granted.
2. Migrates the auth tables once, here, so the server's workers do not race to create them.
3. Creates the platform's two users, or resets their passwords to those in .env, so that a
   regenerated .env takes effect on the next start:
     trainer  train_model.py (Airflow's retrain): creates the experiment and the model, owns them,
              and is therefore the one non-admin user who can move `@champion`
     reader   the silver scorer and the dashboard: read only
   The admin (MLFLOW_AUTH_ADMIN_USERNAME / MLFLOW_AUTH_ADMIN_PASSWORD) is created by the server itself.
Anonymous requests get 401 on everything but /health.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("mlflow-auth")

USERS = {"trainer": "MLFLOW_TRAINER_PASSWORD", "reader": "MLFLOW_READER_PASSWORD"}


def auth_config(database_uri: str) -> str:
    # READ, not NO_PERMISSIONS: the scorer and the dashboard must read the trainer's model.
    return (
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = {database_uri}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    database_uri = os.environ["MLFLOW_DB_URI"]
    config = Path(os.environ["MLFLOW_AUTH_CONFIG_PATH"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.touch(mode=0o600)
    # touch's mode applies only to a new file (and through the umask): one left by an earlier start
    # keeps its own, and the file holds the database password.
    config.chmod(0o600)
    config.write_text(auth_config(database_uri))

    # Imported only now: the mlflow.server.auth package reads the configuration file on import.
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(database_uri)
    for username, variable in USERS.items():
        password = os.environ[variable]
        if store.has_user(username, use_primary=True):
            store.update_user(username, password=password)
            log.info("user %s: password set from %s", username, variable)
        else:
            store.create_user(username, password)
            log.info("user %s created", username)


if __name__ == "__main__":
    main()
