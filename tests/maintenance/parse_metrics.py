#!/usr/bin/env python3
"""Parses Prometheus text (stdin) with prometheus_client's parser and prints
its families as JSON: [{name, type, help, samples: [{name, labels, value}]}].
Used by tests/maintenance/metrics.rs and tests/c/run.sh. Needs
`pip install prometheus_client` (scripts/test.sh installs it)."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = []
for family in text_string_to_metric_families(sys.stdin.read()):
    families.append({
        "name": family.name,
        "type": family.type,
        "help": family.documentation,
        "samples": [{"name": s.name, "labels": s.labels, "value": s.value}
                    for s in family.samples],
    })
json.dump(families, sys.stdout)
