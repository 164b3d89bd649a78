"""Nightly export: one pod per table, run by the scheduler."""

from datetime import datetime

from airflow import DAG
from airflow.decorators import task
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.docker.operators.docker import DockerOperator

with DAG(dag_id="export", start_date=datetime(2024, 1, 1), schedule="@daily") as dag:
    dump = KubernetesPodOperator(
        task_id="dump",
        image='quay.io/acme/exporter:2.3.1',
        cmds=["export"],
    )
    compress = DockerOperator(task_id="compress", image="alpine:3.20", command="gzip -9 /data/out")

    @task.docker(image="python:3.12-slim")
    def report():
        print("done")

    dump >> compress >> report()
