"""Fixtures of the deployment checks: the compose file as compose reads it, .env files, docker compose."""

from tests.utils.compose_fixtures import (  # noqa: F401  (fixtures)
    compose,
    compose_raw,
    docker_compose,
    env_example,
    generated_env,
    services,
)
