"""The Streamlit command center: gold candles with the model's predictions, KPIs, model and pipeline health.

`queries` holds the SQL, `analytics` the pure computations, `repository` the read-only data access,
`health` the lag and quarantine probes, `charts` the plotly figures and `app` the Streamlit page.
"""
