"""Airflow DAG: render every outage post-mortem each night and when asked.

One ``BashOperator`` calls the project's command line, which already isolates incidents,
skips unchanged ones, writes failed/ records, the index and a log. Airflow marks the task
failed when the command exits non-zero (an incident failed); a retry only re-renders
what is not up to date. Copy this file into Airflow's ``dags/`` folder and set
``POSTMORTEM_HOME`` (the project checkout with its ``.venv``).

Written for Airflow 2.4+ (``schedule=``); on Airflow 3 import ``BashOperator`` from
``airflow.providers.standard.operators.bash``.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow import DAG
from airflow.operators.bash import BashOperator

POSTMORTEM_HOME = os.environ.get("POSTMORTEM_HOME", "/srv/postmortem")

# The scheduler's run id goes into every manifest.json, tying each report to its DAG run.
RENDER_ALL = (
    "cd {{ params.home }} && "
    ".venv/bin/postmortem render-all data/raw --out reports --jobs 2 --timeout 3600 --quiet "
    "--run-id {{ run_id | replace('/', '_') }}"
)

with DAG(
    dag_id="postmortem_render_all",
    description="Render every outage post-mortem report (skips unchanged incidents)",
    schedule="15 2 * * *",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    params={"home": POSTMORTEM_HOME},
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=10)},
    tags=["postmortem"],
) as dag:
    BashOperator(
        task_id="render_all",
        bash_command=RENDER_ALL,
        # generous bound: every incident's --timeout plus the kill grace, divided by --jobs
        execution_timeout=dt.timedelta(hours=6),
        append_env=True,
    )
