#!/usr/bin/python3
# amtool on workflows/prometheus/alertmanager-receiver.yaml: the snippet,
# merged into a small whole Alertmanager config (a default receiver and a
# pager route of its own after the snippet's), passes `amtool check-config`;
# an alert with irsteps_playbook goes to the irsteps receiver and, continue:
# true, on to the pager; one without it to the pager only (`amtool config
# routes test`). The snippet keeps what the Sensor relies on (one alert per
# notification, no resolved ones, the bearer token from a file). A config
# made wrong on purpose is refused, so amtool does check.
# Usage: check-alertmanager-config.py SOURCE_DIR
import copy
import os
import subprocess
import sys
import tempfile

import yaml

source_dir = sys.argv[1]
snippet_path = os.path.join(source_dir, "workflows", "prometheus", "alertmanager-receiver.yaml")
snippet = yaml.safe_load(open(snippet_path))
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


# The snippet's route first, then the config's own: a pager for critical
# alerts.
def whole_config(snippet):
    config = copy.deepcopy(snippet)
    config["route"]["receiver"] = "default"
    config["route"]["routes"].append({"receiver": "pager", "matchers": ['severity="critical"']})
    config["receivers"][:0] = [{"name": "default"}, {"name": "pager"}]
    return config


def amtool(config, *args):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(config, f)
    try:
        args = [a.replace("CONFIG", f.name) for a in args]
        return subprocess.run(["amtool", *args], capture_output=True, text=True)
    finally:
        os.unlink(f.name)


# What the Sensor (workflows/argo/events/alertmanager.yaml) relies on.
check(sorted(snippet) == ["receivers", "route"], "the snippet has route and receivers only")
routes = snippet["route"]["routes"]
check(len(routes) == 1, "one route")
route = routes[0]
check(route["receiver"] == "irsteps" and route.get("continue") is True, "the route goes to irsteps and continues")
check(route["group_by"] == ["..."], "group_by ['...']: every alert its own notification")
receivers = snippet["receivers"]
check([r["name"] for r in receivers] == ["irsteps"], "one receiver, irsteps")
webhook = receivers[0]["webhook_configs"][0]
check(webhook["max_alerts"] == 1, "max_alerts: 1")
check(webhook["send_resolved"] is False, "send_resolved: false")
check(webhook["url"] == "http://alertmanager-eventsource-svc.irsteps:12000/alertmanager",
      "the url is the EventSource's Service (<name>-eventsource-svc), port and endpoint")
auth = webhook["http_config"]["authorization"]
check(auth.get("type", "Bearer") == "Bearer" and "credentials" not in auth and auth["credentials_file"],
      "the token comes from a file, as a Bearer token")

config = whole_config(snippet)
run = amtool(config, "check-config", "CONFIG")
check(run.returncode == 0 and "SUCCESS" in run.stdout, "amtool check-config: " + run.stdout + run.stderr)

run = amtool(config, "config", "routes", "test", "--config.file=CONFIG",
             "alertname=ContainerCompromise", "severity=critical", "irsteps_playbook=container-compromise")
check(run.returncode == 0 and run.stdout.strip() == "irsteps,pager",
      "an irsteps alert goes to irsteps, then on to the pager: " + run.stdout + run.stderr)
run = amtool(config, "config", "routes", "test", "--config.file=CONFIG", "alertname=Other", "severity=critical")
check(run.returncode == 0 and run.stdout.strip() == "pager",
      "another alert goes to the pager only: " + run.stdout + run.stderr)

# The control: both credentials and credentials_file is an error amtool knows.
broken = copy.deepcopy(config)
broken["receivers"][2]["webhook_configs"][0]["http_config"]["authorization"]["credentials"] = "inline"
run = amtool(broken, "check-config", "CONFIG")
check(run.returncode != 0 and "FAILED" in run.stdout + run.stderr,
      "amtool refuses a config with two credentials: " + run.stdout + run.stderr)

for failure in failures:
    print("FAIL: " + failure)
if failures:
    sys.exit(1)
print("alertmanager-receiver.yaml: amtool check-config and routes test pass")
