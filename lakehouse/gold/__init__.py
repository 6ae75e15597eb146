"""Gold: the dbt project on PostgreSQL, run from Python (Airflow tasks, the demo, tests)."""
