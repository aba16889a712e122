"""Shared paths and texts for the desired-state tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "groups"
CORPUS = Path(__file__).resolve().parent / "corpus"
SCHEMA_PATH = REPO / "schemas" / "servicegroup.schema.json"

PMML_TEXT = """\
apiVersion: eas-gitops/v1
kind: ServiceGroup
metadata:
  name: pmml
  region: cn-shanghai
spec:
  services:
    - name: pmml_prod
      replicas: 4
      resources: {cpu: 1, memory: 1000}
      model: {path: "oss://examplebucket/models/lr_v2.pmml", processor: pmml}
    - name: pmml_grey
      role: canary
      replicas: 1
      resources: {cpu: 1, memory: 1000}
      model: {path: "oss://examplebucket/models/lr_v3.pmml", processor: pmml}
"""
