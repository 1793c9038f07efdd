"""Airflow DAG: render every outage post-mortem each night and when asked.

One ``BashOperator`` calls the project's command line, which already isolates incidents,
skips unchanged ones, writes failed/ records, the index and a log. Airflow marks the task
failed when the command exits non-zero (an incident failed); a retry only re-renders
what is not up to date. Copy this file into Airflow's ``dags/`` folder and set
``POSTMORTEM_HOME`` (the project checkout with its ``.venv``) on every worker: each worker
that may run the task needs the checkout and its environment at that path.

Written for Airflow 3 (``airflow.sdk``, the standard provider's ``BashOperator``) and
Airflow 2.4+ (``schedule=``; ``airflow.operators.bash`` when the standard provider is not
installed). Create the pool once: ``airflow pools set postmortem 1 "outage post-mortems"``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

try:  # Airflow 3, and Airflow 2 with apache-airflow-providers-standard
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2 without the standard provider
    from airflow.operators.bash import BashOperator

POSTMORTEM_HOME = os.environ.get("POSTMORTEM_HOME", "/srv/postmortem")

# The scheduler's run id goes into every manifest.json, tying each report to its DAG run.
# --quiet: the task log gets one summary line on success, one line per failed incident
# otherwise; the full record is reports/render-all.log on the worker.
RENDER_ALL = (
    "cd {{ params.home }} && "
    ".venv/bin/postmortem render-all data/raw --out reports --jobs 2 --timeout 3600 --quiet "
    "--run-id {{ run_id | replace('/', '_') }}"
)


def notify_failure(context: dict) -> None:
    """Say which run failed and where its record is; replace with your alerting (e-mail, Slack, a pager)."""
    ti = context.get("task_instance")
    logging.getLogger("postmortem").error(
        "postmortem render-all failed (run %s, try %s); see %s/reports/index.html and reports/render-all.log",
        context.get("run_id"),
        getattr(ti, "try_number", "?"),
        POSTMORTEM_HOME,
    )


with DAG(
    dag_id="postmortem_render_all",
    description="Render every outage post-mortem report (skips unchanged incidents)",
    schedule="15 2 * * *",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    params={"home": POSTMORTEM_HOME},
    default_args={
        "owner": "postmortem",
        "retries": 1,
        "retry_delay": dt.timedelta(minutes=10),
        "on_failure_callback": notify_failure,
    },
    tags=["postmortem"],
) as dag:
    BashOperator(
        task_id="render_all",
        bash_command=RENDER_ALL,
        # one render-all at a time across the deployment (it also refuses a second one on the same --out)
        pool="postmortem",
        # generous bound: every incident's --timeout plus the kill grace, divided by --jobs
        execution_timeout=dt.timedelta(hours=6),
        append_env=True,
    )
