"""Kubernetes manifests: every container image of every Pod template, in place.

The inputs follow the Kubernetes documentation's examples (a CronJob running busybox, a Job
running perl) and how projects keep several workloads in one multi-document file.
"""

from __future__ import annotations

import pytest
from refs_support import DIGEST, notes, pin_text, used_by

from pinner.errors import ReferenceFileError

D = DIGEST

MULTI = """\
# app stack
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: api}
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/api:1.4.2
          args: ["migrate"]
      containers:
        - name: api
          image: ghcr.io/acme/api:1.4.2
          ports:
            - containerPort: 8080
        - name: proxy
          image: "envoyproxy/envoy:v1.31.0"
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  template:
    spec:
      containers:
      - name: postgres
        image: postgres:16
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: hello
            image: busybox
          restartPolicy: OnFailure
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  image: python:3.12
"""

PINNED = [
    pytest.param(
        MULTI,
        MULTI.replace("ghcr.io/acme/api:1.4.2", f"ghcr.io/acme/api:1.4.2@{D}")
        .replace('"envoyproxy/envoy:v1.31.0"', f'"envoyproxy/envoy:v1.31.0@{D}"')
        .replace("image: postgres:16", f"image: postgres:16@{D}")
        .replace("image: busybox", f"image: busybox@{D}"),
        id="deployment-statefulset-cronjob-configmap",
    ),
    pytest.param(
        "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: debug\r\nspec:\r\n  ephemeralContainers:\r\n"
        "  - name: shell\r\n    image: busybox:1.36\r\n  containers:\r\n  - name: app\r\n    image: nginx:1.27\r\n",
        "apiVersion: v1\r\nkind: Pod\r\nmetadata:\r\n  name: debug\r\nspec:\r\n  ephemeralContainers:\r\n"
        f"  - name: shell\r\n    image: busybox:1.36@{D}\r\n  containers:\r\n  - name: app\r\n    image: nginx:1.27@{D}\r\n",
        id="pod-ephemeral-crlf",
    ),
    pytest.param(
        "apiVersion: v1\nkind: List\nitems:\n- kind: Job\n  metadata: {name: pi}\n  spec:\n    template:\n"
        "      spec:\n        containers: [{name: pi, image: 'perl:5.34.0'}]\n",
        "apiVersion: v1\nkind: List\nitems:\n- kind: Job\n  metadata: {name: pi}\n  spec:\n    template:\n"
        f"      spec:\n        containers: [{{name: pi, image: 'perl:5.34.0@{D}'}}]\n",
        id="list-of-jobs-flow-style",
    ),
]

NO_OP = [
    pytest.param(
        f"kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - image: nginx:1@{D}\n",
        id="already-pinned",
    ),
    pytest.param(
        "image:\n  repository: nginx\n  tag: 1.27\nreplicaCount: 1\n", id="helm-values-image-table"
    ),
    pytest.param("kind: ConfigMap\ndata:\n  image: python:3.12\n", id="configmap-data"),
    pytest.param(
        "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - image: $(IMAGE)\n",
        id="variable",
    ),
    pytest.param("---\n---\n", id="empty-documents"),
    pytest.param("kind: Pod\nspec:\n  containers:\n  - name: a\n    image:\n", id="null-image"),
]


@pytest.mark.parametrize(("before", "after"), PINNED)
def test_pins_pod_template_images(before: str, after: str) -> None:
    assert pin_text("kubernetes", before) == after


@pytest.mark.parametrize("text", NO_OP)
def test_leaves_alone(text: str) -> None:
    assert pin_text("kubernetes", text) == text


def test_names_workload_and_container() -> None:
    assert used_by("kubernetes", MULTI) == [
        (14, "ghcr.io/acme/api:1.4.2", "Deployment api: initContainer migrate"),
        (18, "ghcr.io/acme/api:1.4.2", "Deployment api: container api"),
        (22, "envoyproxy/envoy:v1.31.0", "Deployment api: container proxy"),
        (34, "postgres:16", "StatefulSet db: container postgres"),
        (48, "busybox", "CronJob hello: container hello"),
    ]


def test_variable_is_noted() -> None:
    text = "kind: Pod\nspec:\n  containers:\n  - image: $(IMAGE)\n"
    assert notes("kubernetes", text, "pod.yaml") == (
        "pod.yaml:4: $(IMAGE): set by a variable; not pinned",
    )


def test_a_recursive_alias_is_one_line() -> None:
    # The walk for Pod specs followed the alias into itself until Python's recursion limit.
    with pytest.raises(ReferenceFileError) as caught:
        pin_text("kubernetes", "kind: List\nitems: &a [*a]\n", "k.yaml")
    assert str(caught.value) == "k.yaml:2: not read: an alias inside the node it names"
