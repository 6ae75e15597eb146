"""Connect Metabase to the gold schema with the read-only role (compose's one-shot `metabase-init`).

Idempotent: on a fresh Metabase it completes the first-run setup (the admin user, no tracking) with the
gold database; later runs log in and create or update that database (e.g. after a password change).
Only the `gold` schema is synced, and only through `lakehouse_reader`, so Metabase can never write.
Standard library only: it runs in the platform's Python image without extra packages.

Environment: MB_URL, MB_ADMIN_EMAIL, MB_ADMIN_PASSWORD and LAKEHOUSE_PG_READONLY_DSN (the platform's
read-only DSN, postgresql://lakehouse_reader:...@host:port/market_db).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger("metabase-init")

DATABASE_NAME = "Lakehouse gold"
REQUIRED = ("MB_URL", "MB_ADMIN_EMAIL", "MB_ADMIN_PASSWORD", "LAKEHOUSE_PG_READONLY_DSN")


class MetabaseError(RuntimeError):
    """Metabase answered something the setup cannot continue from."""


def reader_connection(dsn: str) -> dict[str, Any]:
    """host, port, dbname, user, password of a postgresql:// DSN (percent-escapes decoded)."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.username:
        raise MetabaseError("LAKEHOUSE_PG_READONLY_DSN must look like postgresql://user:password@host:port/database")
    return {
        "host": parts.hostname,
        "port": parts.port or 5432,
        "dbname": parts.path.lstrip("/") or "market_db",
        "user": unquote(parts.username),
        "password": unquote(parts.password or ""),
    }


def database_payload(env: dict[str, str]) -> dict[str, Any]:
    """The Metabase database entry: PostgreSQL, the read-only role, only schema `gold`."""
    return {
        "engine": "postgres",
        "name": DATABASE_NAME,
        "details": {
            **reader_connection(env["LAKEHOUSE_PG_READONLY_DSN"]),
            "ssl": False,
            "schema-filters-type": "inclusion",
            "schema-filters-patterns": "gold",
        },
        "is_full_sync": True,
        "auto_run_queries": True,
    }


def setup_payload(env: dict[str, str], token: str) -> dict[str, Any]:
    return {
        "token": token,
        "user": {
            "email": env["MB_ADMIN_EMAIL"],
            "password": env["MB_ADMIN_PASSWORD"],
            "first_name": "Lakehouse",
            "last_name": "Admin",
            "site_name": "Lakehouse",
        },
        "prefs": {"site_name": "Lakehouse", "site_locale": "en", "allow_tracking": False},
        "database": database_payload(env),
    }


def missing_variables(env: dict[str, str]) -> list[str]:
    return [name for name in REQUIRED if not env.get(name)]


class Client:
    def __init__(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise MetabaseError(f"MB_URL must be an http(s) URL, got {url!r}")
        self.url, self.session = url.rstrip("/"), ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in __init__
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"X-Metabase-Session": self.session} if self.session else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise MetabaseError(f"{method} {path}: HTTP {error.code} {error.read().decode()[:300]}") from error
        return json.loads(text) if text.strip() else None

    def wait_ready(self, timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if (self.call("GET", "/api/health") or {}).get("status") == "ok":
                    return
            except (OSError, MetabaseError) as error:
                log.info("waiting for Metabase: %s", error)
            if time.monotonic() > deadline:
                raise MetabaseError(f"Metabase at {self.url} not ready after {timeout_s:.0f}s")
            time.sleep(5)


def configure(client: Client, env: dict[str, str]) -> str:
    """Set Metabase up (first run) or bring the gold database entry up to date; returns what it did."""
    properties = client.call("GET", "/api/session/properties")
    token = properties.get("setup-token")
    if token and not properties.get("has-user-setup"):
        client.call("POST", "/api/setup", setup_payload(env, token))
        return "set up Metabase with the gold database"
    session = client.call(
        "POST", "/api/session", {"username": env["MB_ADMIN_EMAIL"], "password": env["MB_ADMIN_PASSWORD"]}
    )
    client.session = session["id"]
    databases = client.call("GET", "/api/database")
    existing = [d for d in databases.get("data", databases) if d.get("name") == DATABASE_NAME]
    payload = database_payload(env)
    if existing:
        client.call("PUT", f"/api/database/{existing[0]['id']}", payload)
        return "updated the gold database"
    client.call("POST", "/api/database", payload)
    return "added the gold database"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    env = dict(os.environ)
    missing = missing_variables(env)
    if missing:
        log.error("missing environment variables: %s", ", ".join(missing))
        return 2
    try:
        client = Client(env["MB_URL"])
        client.wait_ready()
        log.info("%s", configure(client, env))
    except MetabaseError as error:
        log.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
