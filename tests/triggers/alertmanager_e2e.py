#!/usr/bin/python3
# Prometheus -> Alertmanager -> the irsteps Sensor, with the real programs
# (Debian's prometheus and prometheus-alertmanager; a missing one fails), all
# on 127.0.0.1 with free ports and a temporary folder, stopped at the end:
#
# 1. A tiny target exposes falco_events{priority="Critical"} for the pod
#    shop/web-1 as falcosidekick does, the counter growing at every scrape.
# 2. Prometheus scrapes it every second and evaluates a test copy of
#    workflows/prometheus/rules.yaml (scripts/prometheus-rules.py --test-copy:
#    `for:` and the window shortened, nothing else changed).
# 3. Alertmanager runs the route and receiver of
#    workflows/prometheus/alertmanager-receiver.yaml, merged into a config of
#    its own, with the webhook's url pointed at a local receiver, the token
#    file at a test token, short group_wait/group_interval, and send_resolved
#    on (the shipped snippet has it off) so that its own resolved
#    notification can be recorded too.
# 4. The receiver records Alertmanager's real POST: it must carry
#    "Authorization: Bearer <token>" and one firing alert.
# 5. That payload goes through `playbook trigger` with the shipped Sensor
#    (workflows/argo/events/alertmanager.yaml): the container-compromise
#    trigger fires for shop/web-1 with response contain, the Workflow named
#    after the alert's fingerprint and startsAt. Variants of the recorded
#    payload check the rest of the mapping: severity warning gives evidence,
#    two alerts in one notification and an alert that names no known
#    playbook start nothing.
# 6. The target stops growing; the alert resolves; Alertmanager's resolved
#    notification goes through `playbook trigger` and starts nothing.
#
# Usage: alertmanager_e2e.py SOURCE_DIR [--record DIR], with IRSTEPS_BIN_DIR
# (the folder of the playbook binary) in the environment. Exit 0: passed; 1:
# failed. --record DIR keeps the two payloads Alertmanager posted
# (alertmanager-firing.json, alertmanager-resolved.json; how
# tests/data/triggers/alertmanager-*.json were recorded).
import copy
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import yaml

SOURCE_DIR = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
RECORD_DIR = sys.argv[3] if len(sys.argv) == 4 and sys.argv[2] == "--record" else None
WAIT_SECONDS = 120

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL: " + message, flush=True)
    return condition


def fatal(message):
    print("FAIL: " + message, flush=True)
    raise SystemExit(1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Target:
    """falcosidekick's falco_events counter for one pod; grows at every scrape while growing is set."""

    def __init__(self):
        self.count = 0
        self.growing = True
        self.lock = threading.Lock()

    def exposition(self):
        with self.lock:
            if self.growing:
                self.count += 1
            count = self.count
        return ("# HELP falco_events Falco events\n"
                "# TYPE falco_events counter\n"
                'falco_events{hostname="node-1",k8s_ns_name="shop",k8s_pod_name="web-1",'
                'priority="Critical",rule="Terminal shell in container"} %d\n' % count)


class Received:
    def __init__(self):
        self.posts = []
        self.cond = threading.Condition()

    def add(self, post):
        with self.cond:
            self.posts.append(post)
            self.cond.notify_all()

    def wait_for(self, predicate, seconds):
        deadline = time.monotonic() + seconds
        with self.cond:
            while True:
                for post in self.posts:
                    if predicate(post):
                        return post
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


def serve(port, handler_class):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def make_handlers(target, received):
    class Quiet(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class Metrics(Quiet):
        def do_GET(self):
            body = target.exposition().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Webhook(Quiet):
        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            received.add({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Metrics, Webhook


def start(argv, log_path):
    log = open(log_path, "wb")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as error:
        return str(error)


def trigger(playbook, sensor, payload, tmp, name, authorization, token_file):
    """playbook trigger on the payload, as the EventSource would receive it: with the Authorization header
    Alertmanager sent, the EventSource holding the token of token_file (its authSecret)."""
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(payload, f)
    run = subprocess.run([playbook, "trigger", sensor, path, "--header", "Content-Type: application/json",
                          "--header", "Authorization: " + authorization, "--auth-token-file", token_file],
                         capture_output=True, text=True, timeout=60)
    document = None
    if check(run.returncode == 0, "%s: playbook trigger exits 0, not %d: %s" % (name, run.returncode, run.stderr)):
        try:
            document = json.loads(run.stdout)
        except ValueError as error:
            check(False, "%s: playbook trigger prints one JSON document: %s: %r" % (name, error, run.stdout[:500]))
    if document is not None:
        check(document.get("kind") == "SensorTrigger" and document.get("sensor") == "alertmanager-playbooks",
              "%s: a SensorTrigger of the Sensor alertmanager-playbooks: %s" % (name, run.stdout[:300]))
    return document


def webhook_status(document):
    return ((document or {}).get("webhook") or {}).get("status")


def fired(document):
    return [t for t in (document or {}).get("triggers", []) if t.get("fired")]


def parameters(resource):
    return {p["name"]: p.get("value") for p in resource["spec"]["arguments"]["parameters"]}


def main():
    if SOURCE_DIR is None:
        fatal("usage: alertmanager_e2e.py SOURCE_DIR")
    prometheus = shutil.which("prometheus")
    alertmanager = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    bin_dir = os.environ.get("IRSTEPS_BIN_DIR", "")
    playbook = os.path.join(bin_dir, "playbook")
    if not prometheus:
        fatal("prometheus is not installed (Debian package prometheus; scripts/install-deps.sh)")
    if not alertmanager:
        fatal("alertmanager is not installed (Debian package prometheus-alertmanager; scripts/install-deps.sh)")
    if not bin_dir or not os.access(playbook, os.X_OK):
        fatal("no playbook binary at $IRSTEPS_BIN_DIR/playbook (%r)" % playbook)
    sensor = os.path.join(SOURCE_DIR, "workflows", "argo", "events", "alertmanager.yaml")
    snippet_path = os.path.join(SOURCE_DIR, "workflows", "prometheus", "alertmanager-receiver.yaml")

    tmp = tempfile.mkdtemp(prefix="irsteps-alertmanager-e2e-")
    processes = []
    servers = []
    logs = {}
    try:
        target = Target()
        received = Received()
        metrics_handler, webhook_handler = make_handlers(target, received)
        target_port, webhook_port = free_port(), free_port()
        servers.append(serve(target_port, metrics_handler))
        servers.append(serve(webhook_port, webhook_handler))
        prometheus_port, alertmanager_port = free_port(), free_port()

        # The rules: a test copy, `for: 2s` and a 10-second window.
        rules = os.path.join(tmp, "rules.yaml")
        gen = subprocess.run([sys.executable, os.path.join(SOURCE_DIR, "scripts", "prometheus-rules.py"),
                              "--test-copy", rules, "--for", "2s", "--window", "10s"], capture_output=True, text=True)
        if gen.returncode != 0:
            fatal("prometheus-rules.py --test-copy: " + gen.stderr)

        # Alertmanager: the shipped route and receiver, pointed at the local
        # receiver and a test token.
        token = secrets.token_hex(32)
        token_file = os.path.join(tmp, "token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        snippet = yaml.safe_load(open(snippet_path))
        config = copy.deepcopy(snippet)
        config["route"]["receiver"] = "default"
        route = config["route"]["routes"][0]
        route["group_wait"] = "1s"
        route["group_interval"] = "1s"
        config["receivers"].insert(0, {"name": "default"})
        webhook = config["receivers"][1]["webhook_configs"][0]
        shipped_path = webhook["url"].split(":12000", 1)[1]
        webhook["url"] = "http://127.0.0.1:%d%s" % (webhook_port, shipped_path)
        webhook["http_config"]["authorization"]["credentials_file"] = token_file
        webhook["send_resolved"] = True
        am_config = os.path.join(tmp, "alertmanager.yml")
        with open(am_config, "w") as f:
            yaml.safe_dump(config, f)

        prom_config = os.path.join(tmp, "prometheus.yml")
        with open(prom_config, "w") as f:
            yaml.safe_dump({
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [rules],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:%d" % alertmanager_port]}]}]},
                "scrape_configs": [{
                    "job_name": "falcosidekick",
                    # The labels a Kubernetes scrape gives: falcosidekick's
                    # own namespace and pod, which the alert must not take
                    # for the pod Falco saw.
                    "static_configs": [{"targets": ["127.0.0.1:%d" % target_port],
                                        "labels": {"namespace": "falco", "pod": "falcosidekick-7d9f-abcde"}}],
                }],
            }, f)

        logs["alertmanager"] = os.path.join(tmp, "alertmanager.log")
        processes.append(start([alertmanager, "--config.file=" + am_config, "--storage.path=" + os.path.join(tmp, "am"),
                                "--web.listen-address=127.0.0.1:%d" % alertmanager_port, "--cluster.listen-address=",
                                "--log.level=debug"], logs["alertmanager"]))
        logs["prometheus"] = os.path.join(tmp, "prometheus.log")
        processes.append(start([prometheus, "--config.file=" + prom_config,
                                "--storage.tsdb.path=" + os.path.join(tmp, "prometheus"),
                                "--web.listen-address=127.0.0.1:%d" % prometheus_port,
                                "--rules.alert.resend-delay=1s"], logs["prometheus"]))

        # 4. The real firing notification.
        def status_is(status):
            def predicate(post):
                try:
                    return json.loads(post["body"]).get("status") == status
                except ValueError:
                    return False
            return predicate

        post = received.wait_for(status_is("firing"), WAIT_SECONDS)
        for name, process in (("prometheus", processes[1]), ("alertmanager", processes[0])):
            check(process.poll() is None, name + " is running")
        if not check(post is not None, "Alertmanager posted a firing notification within %d s" % WAIT_SECONDS):
            return
        firing = json.loads(post["body"])
        if RECORD_DIR:
            with open(os.path.join(RECORD_DIR, "alertmanager-firing.json"), "wb") as f:
                f.write(post["body"])
        print("firing notification: " + json.dumps(firing, sort_keys=True), flush=True)
        check(post["path"] == shipped_path, "posted to the shipped endpoint %s, not %s" % (shipped_path, post["path"]))
        check(post["headers"].get("Authorization") == "Bearer " + token,
              "the notification carries Authorization: Bearer <the token file's token>")
        check(firing.get("version") == "4", "webhook payload version 4")
        alerts = firing.get("alerts", [])
        if not check(len(alerts) == 1, "one alert in the notification, not %d" % len(alerts)):
            return
        alert = alerts[0]
        labels = alert.get("labels", {})
        check(labels.get("alertname") == "ContainerCompromise", "alertname ContainerCompromise")
        check(labels.get("namespace") == "shop" and labels.get("pod") == "web-1",
              "the alert names the pod Falco saw, shop/web-1, not the exporter's: %s" % labels)
        check(labels.get("severity") == "critical" and labels.get("irsteps_playbook") == "container-compromise",
              "severity critical, irsteps_playbook container-compromise: %s" % labels)
        check("truncatedAlerts" in firing and firing["truncatedAlerts"] == 0, "truncatedAlerts 0")

        # 5. Through the Sensor, with the headers Alertmanager sent.
        authorization = post["headers"].get("Authorization", "")
        document = trigger(playbook, sensor, firing, tmp, "firing", authorization, token_file)
        ran = fired(document)
        if check(len(ran) == 1 and ran[0].get("name") == "container-compromise",
                 "the firing alert fires the container-compromise trigger: %s" % json.dumps(document)[:1000]):
            resource = ran[0]["resource"]
            got = parameters(resource)
            check(resource["spec"]["workflowTemplateRef"]["name"] == "irsteps-container-compromise",
                  "the Workflow runs irsteps-container-compromise")
            check(got.get("namespace") == "shop" and got.get("pod") == "web-1",
                  "the Workflow targets shop/web-1: %s" % got)
            check(got.get("response") == "contain", "a critical alert: response contain, not %r" % got.get("response"))
            check(got.get("severity") == "critical", "severity critical, not %r" % got.get("severity"))
            check(got.get("detected-at") == alert["startsAt"], "detected-at is startsAt")
            check(document.get("webhook", {}).get("status") == 200, "the webhook answers 200: %s" % document.get("webhook"))
            starts = re.sub(r"[-:]", "", alert["startsAt"][:19]).replace("T", "t")
            want_name = "alertmanager-%s-%s" % (alert["fingerprint"], starts)
            check(resource["metadata"]["name"] == want_name,
                  "the Workflow is named %s, not %s" % (want_name, resource["metadata"]["name"]))
            check(got.get("incident-id") == "INC-%s-%s" % (alert["startsAt"][:10], starts[-6:]),
                  "incident-id from startsAt: %r" % got.get("incident-id"))

        # The same notification again (a repeat, another replica): the same
        # Workflow name, which the API server refuses as AlreadyExists.
        again = fired(trigger(playbook, sensor, firing, tmp, "firing-again", authorization, token_file))
        if ran and again:
            check(again[0]["resource"]["metadata"]["name"] == ran[0]["resource"]["metadata"]["name"],
                  "a repeat of the notification gives the same Workflow name")

        # A forged request: the same payload without the token, or with
        # another, is answered 401 and starts nothing.
        for forged_name, forged in (("no-token", "Basic " + "x" * 8), ("wrong-token", "Bearer " + secrets.token_hex(32))):
            document = trigger(playbook, sensor, firing, tmp, forged_name, forged, token_file)
            check(webhook_status(document) == 401 and not fired(document),
                  "%s: answered 401, nothing fired: %s" % (forged_name, json.dumps(document)[:600]))

        # Variants of the recorded payload.
        warning = copy.deepcopy(firing)
        warning["alerts"][0]["labels"]["severity"] = "warning"
        ran = fired(trigger(playbook, sensor, warning, tmp, "warning", authorization, token_file))
        if check(len(ran) == 1, "a warning alert fires the trigger"):
            got = parameters(ran[0]["resource"])
            check(got.get("response") == "evidence" and got.get("severity") == "medium",
                  "a warning alert: response evidence, severity medium: %s" % got)
        two = copy.deepcopy(firing)
        other = copy.deepcopy(two["alerts"][0])
        other["labels"]["pod"] = "web-2"
        two["alerts"].append(other)
        check(not fired(trigger(playbook, sensor, two, tmp, "two-alerts", authorization, token_file)), "two alerts in one notification start nothing")
        unknown = copy.deepcopy(firing)
        unknown["alerts"][0]["labels"]["irsteps_playbook"] = "container-compromise-x"
        check(not fired(trigger(playbook, sensor, unknown, tmp, "unknown-playbook", authorization, token_file)),
              "an alert naming no known playbook starts nothing")
        system = copy.deepcopy(firing)
        system["alerts"][0]["labels"]["namespace"] = "kube-system"
        check(not fired(trigger(playbook, sensor, system, tmp, "kube-system", authorization, token_file)),
              "an alert about a pod in kube-system starts nothing")

        # 6. The target stops growing: Alertmanager's resolved notification.
        with target.lock:
            target.growing = False
        post = received.wait_for(status_is("resolved"), WAIT_SECONDS)
        if check(post is not None, "Alertmanager posted a resolved notification within %d s" % WAIT_SECONDS):
            resolved = json.loads(post["body"])
            if RECORD_DIR:
                with open(os.path.join(RECORD_DIR, "alertmanager-resolved.json"), "wb") as f:
                    f.write(post["body"])
            print("resolved notification: " + json.dumps(resolved, sort_keys=True), flush=True)
            check(post["headers"].get("Authorization") == "Bearer " + token, "the resolved one carries the token too")
            check(resolved["alerts"][0]["fingerprint"] == alert["fingerprint"], "the same alert resolved")
            document = trigger(playbook, sensor, resolved, tmp, "resolved", post["headers"].get("Authorization", ""), token_file)
            check(document is not None and not fired(document),
                  "the resolved notification starts nothing: %s" % json.dumps(document)[:1000])
            deps = (document or {}).get("dependencies", [])
            check(any(d.get("name") == "container-compromise" and d.get("matched") is False for d in deps),
                  "the dependency container-compromise does not match a resolved alert: %s" % deps)
    finally:
        for process in processes:
            stop(process)
        for server in servers:
            server.shutdown()
        if failures:
            for name, path in logs.items():
                print("--- %s log (last lines)\n%s" % (name, tail(path)), flush=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as error:  # an unexpected error is a failure, with its trace
        import traceback
        traceback.print_exc()
        failures.append(repr(error))
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("Prometheus -> Alertmanager -> playbook trigger: all checks passed")
