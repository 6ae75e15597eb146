"""The README's "Services and ports" table lists exactly the ports the compose file publishes."""

from __future__ import annotations

import re

import pytest

from tests.utils.compose_model import REPO, published_ports

HEADING = "## Services and ports"


def parse_ports_table(markdown: str) -> dict[tuple[str, int], str]:
    """{(service, port): row} from the first table under HEADING (columns `service | port | ...`).

    A port cell may list several ports (`9000, 9001`); cells may wrap names in backticks.
    """
    _, found, rest = markdown.partition(HEADING + "\n")
    if not found:
        raise ValueError(f"README.md has no {HEADING!r} section")
    section = re.split(r"(?m)^## ", rest, maxsplit=1)[0]
    rows = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    if len(rows) < 3:
        raise ValueError(f"no table under {HEADING!r}")
    header = [cell.strip().strip("`").lower() for cell in rows[0].strip("|").split("|")]
    if header[:2] != ["service", "port"]:
        raise ValueError(f"the table's first columns must be `service | port`, got {header[:2]}")
    table: dict[tuple[str, int], str] = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        service = cells[0].strip("`* ")
        for port in re.findall(r"\d+", cells[1]):
            table[(service, int(port))] = row
    return table


def test_parser_reads_the_documented_format() -> None:
    markdown = (
        "# x\n\n## Services and ports\n\nintro\n\n| service | port | what |\n|---|---|---|\n"
        "| `minio` | 9000, 9001 | S3 and console |\n| dashboard | 8501 | Streamlit |\n\n## Next\n| a | b |\n"
    )
    assert set(parse_ports_table(markdown)) == {("minio", 9000), ("minio", 9001), ("dashboard", 8501)}
    with pytest.raises(ValueError, match="no '## Services and ports' section"):
        parse_ports_table("# nothing here\n")


def test_readme_table_matches_the_published_ports(services) -> None:
    published = {(name, host) for name, svc in services.items() for _address, host, _container in published_ports(svc)}
    documented = set(parse_ports_table((REPO / "README.md").read_text()))
    assert {
        "published but not in README": sorted(published - documented),
        "in README but not published": sorted(documented - published),
    } == {"published but not in README": [], "in README but not published": []}


def test_the_contract_ports_are_published(services) -> None:
    # ARCHITECTURE.md: API 8000, Streamlit 8501, MLflow 5000, Airflow 8081, MinIO console 9001,
    # Metabase 3005, Grafana 3001, cAdvisor 8090.
    contract = {
        "ingestion-api": (8000, 8000),
        "dashboard": (8501, 8501),
        "mlflow": (5000, 5000),
        "airflow-apiserver": (8081, 8080),
        "minio": (9001, 9001),
        "metabase": (3005, 3000),
        "grafana": (3001, 3000),
        "cadvisor": (8090, 8080),
    }
    for service, (host, container) in contract.items():
        ports = {(h, c) for _a, h, c in published_ports(services[service])}
        assert (host, container) in ports, f"{service} must publish {host}->{container}"
