"""What the Airflow DAGs run: plain functions, testable without Airflow."""
