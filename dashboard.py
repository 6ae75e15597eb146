"""The live command center (Streamlit, port 8501): `streamlit run dashboard.py`. See lakehouse/dashboard/."""

from lakehouse.dashboard.app import main
from lakehouse.logging_setup import configure_logging

configure_logging()
main()
