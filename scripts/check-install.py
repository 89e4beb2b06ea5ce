#!/usr/bin/env python3
"""Checks an irsteps install in a cluster and says what is missing, with the fix.

Usage: check-install.py NAMESPACE [--kubeconfig FILE] [--context NAME]

Reads the cluster with kubectl (as the caller, who needs to read the
namespace, CRDs and Deployments, and to create SubjectAccessReviews):
- Argo Workflows' CRDs; the workflow controller (a Deployment labelled
  app=workflow-controller), and that a namespaced one watches NAMESPACE;
- the namespace, the step WorkflowTemplate and the four playbooks;
- the evidence claim irsteps-evidence, Bound;
- with the executor plugin installed (ConfigMap irsteps-executor-plugin):
  ARGO_EXECUTOR_PLUGINS=true on the controller, a namespaced controller in
  the plugin's namespace, the policy ConfigMap and the ServiceAccount token
  Secrets filled in;
- with the Falco trigger installed (Sensor falco-container-compromise): Argo
  Events' CRDs, the EventBus `default` and the webhook's Secret;
- every ServiceAccount of the install holds each permission the shipped
  Roles give it (workflows/argo/rbac/, plugin/rbac.yaml, events/falco.yaml,
  read beside this script): a SubjectAccessReview per verb and resource, as
  system:serviceaccount:NAMESPACE:ACCOUNT with its groups, in the binding's
  namespace (a ClusterRoleBinding's: in every namespace).
- the controller's version, from its image tag or its app.kubernetes.io/version
  label: 3.6 or later (spec.synchronization.mutexes, the v4 CRDs' fields);
  a version it cannot read is said, not counted;
- an artifact repository for NAMESPACE, where Argo looks for one
  (workflow/artifactrepositories/artifactrepositories.go Resolve): the
  ConfigMap artifact-repositories in NAMESPACE with its
  workflows.argoproj.io/default-artifact-repository key, else the
  controller's ConfigMap (--configmap, default workflow-controller-configmap)
  with `artifactRepository` (the snapshot step's evidence is an output
  artifact: without one, that node fails);

Prints one line per check (ok / MISSING, and the fix); exit 0 only when all
hold, 1 when something is missing, 2 for bad usage, 4 when the cluster does
not answer (after retries).
"""
import argparse
import json
import re
import os
import subprocess
import sys
import time

import yaml

ARGO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workflows", "argo")
PLAYBOOKS = ["container-compromise", "data-exposure", "misconfiguration", "supply-chain"]
# What a kubectl error says when the API server did not answer: retried,
# then exit 4.
TRANSIENT = ("connection refused", "i/o timeout", "TLS handshake", "Unable to connect", "EOF",
             "ServiceUnavailable", "the server is currently unable", "context deadline exceeded",
             "Client.Timeout")


class Unreachable(Exception):
    pass


class Check:
    def __init__(self, kubectl_args):
        self.kubectl_args = kubectl_args
        self.missing = 0

    def kubectl(self, *args):
        """(exit status, stdout, stderr) of kubectl; a cluster that does not
        answer is retried three times, then Unreachable."""
        for attempt in range(4):
            try:
                run = subprocess.run(["kubectl", *self.kubectl_args, "--request-timeout=30s", *args],
                                     capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                run = None
            if run is not None and not (run.returncode != 0 and any(t in run.stderr for t in TRANSIENT)):
                return run.returncode, run.stdout, run.stderr
            if attempt < 3:
                time.sleep(2 ** attempt)
        raise Unreachable("kubectl " + " ".join(args) + ": " + ((run.stderr.strip() if run else "timed out")))

    def kubectl_input(self, stdin, *args):
        """kubectl with stdin, once: a create is not repeated."""
        try:
            run = subprocess.run(["kubectl", *self.kubectl_args, "--request-timeout=30s", *args], input=stdin,
                                 capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise Unreachable("kubectl " + " ".join(args) + ": timed out")
        return run.returncode, run.stdout, run.stderr

    def exists(self, *args):
        rc, _, _ = self.kubectl("get", *args, "-o", "name")
        return rc == 0

    def note(self, what):
        print(f"note     {what}")

    def report(self, ok, what, fix=""):
        if ok:
            print(f"ok       {what}")
        else:
            self.missing += 1
            print(f"MISSING  {what}\n         fix: {fix}")
        return ok


def documents(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def granted(files, ns):
    """For each ServiceAccount of the install: the (namespace or None for
    every namespace, apiGroup, resource, verb) its shipped bindings give."""
    docs = [d for path in files for d in documents(path)]
    roles = {}
    for d in docs:
        if d["kind"] in ("Role", "ClusterRole"):
            roles[(d["kind"], d["metadata"]["name"])] = d.get("rules") or []
    out = {}
    for d in docs:
        if d["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        ref = d["roleRef"]
        rules = roles.get((ref["kind"], ref["name"]))
        if rules is None:
            continue  # a Role shipped elsewhere; its own file is checked when installed
        where = None
        if d["kind"] == "RoleBinding":
            where = d["metadata"].get("namespace", "irsteps")
            where = ns if where == "irsteps" else where
        for subject in d.get("subjects") or []:
            if subject.get("kind") != "ServiceAccount" or subject.get("namespace", "irsteps") != "irsteps":
                continue
            wanted = out.setdefault(subject["name"], set())
            for rule in rules:
                for group in rule.get("apiGroups", [""]):
                    for resource in rule.get("resources", []):
                        for verb in rule.get("verbs", []):
                            wanted.add((where, group, resource, verb))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("namespace")
    parser.add_argument("--kubeconfig")
    parser.add_argument("--context")
    try:
        args = parser.parse_args()
    except SystemExit as e:
        return 2 if e.code else 0
    kubectl_args = []
    if args.kubeconfig:
        kubectl_args += ["--kubeconfig", args.kubeconfig]
    if args.context:
        kubectl_args += ["--context", args.context]
    ns = args.namespace
    c = Check(kubectl_args)
    try:
        return run_checks(c, ns)
    except Unreachable as e:
        print(f"check-install: the cluster does not answer: {e}", file=sys.stderr)
        return 4


def run_checks(c, ns):
    # Argo Workflows.
    crds = ["workflows.argoproj.io", "workflowtemplates.argoproj.io", "workflowtaskresults.argoproj.io"]
    for crd in crds:
        c.report(c.exists("crd", crd), f"Argo Workflows CRD {crd}",
                 "install Argo Workflows (its CRDs and controller) first: "
                 "https://argo-workflows.readthedocs.io/en/latest/installation/")
    rc, out, err = c.kubectl("get", "deployments", "-A", "-l", "app=workflow-controller", "-o", "json")
    controllers = json_items(out) if rc == 0 else []
    c.report(bool(controllers), "Argo Workflows' controller (a Deployment labelled app=workflow-controller)",
             "install Argo Workflows; or, if yours is labelled otherwise, check it by hand" +
             (f" ({err.strip()})" if rc != 0 else ""))
    env, namespaced = {}, []
    for d in controllers:
        for container in d["spec"]["template"]["spec"].get("containers", []):
            for e in container.get("env") or []:
                env[e["name"]] = e.get("value", "")
            argv = (container.get("command") or []) + (container.get("args") or [])
            if "--namespaced" in argv:
                managed = d["metadata"]["namespace"]
                for i, a in enumerate(argv):
                    if a.startswith("--managed-namespace="):
                        managed = a.split("=", 1)[1]
                    elif a == "--managed-namespace" and i + 1 < len(argv):
                        managed = argv[i + 1]
                namespaced.append((d["metadata"]["namespace"], managed))
    for home, managed in namespaced:
        c.report(managed == ns, f"the namespaced controller in {home} watches {ns}",
                 f"run the playbooks in {managed}, or give the controller --managed-namespace={ns}")
    check_version(c, controllers)
    check_artifact_repository(c, ns, controllers)

    # The install itself.
    c.report(c.exists("namespace", ns), f"namespace {ns}", f"kubectl apply -k workflows/argo (or your overlay)")
    for name in ["irsteps-steps"] + [f"irsteps-{p}" for p in PLAYBOOKS]:
        c.report(c.exists("-n", ns, "workflowtemplate", name), f"WorkflowTemplate {name}",
                 "kubectl apply -k workflows/argo (or your overlay)")
    rc, phase, _ = c.kubectl("-n", ns, "get", "pvc", "irsteps-evidence", "-o", "jsonpath={.status.phase}")
    c.report(rc == 0 and phase == "Bound", f"evidence claim irsteps-evidence Bound (is: {phase or 'absent'})",
             "give it a ReadWriteMany storage class (storageClassName, workflows/argo/evidence.yaml) or a "
             "PersistentVolume it can bind; `kubectl -n " + ns + " describe pvc irsteps-evidence` says why not")

    files = [os.path.join(ARGO, "rbac", f) for f in sorted(os.listdir(os.path.join(ARGO, "rbac")))]

    # The executor plugin.
    if c.exists("-n", ns, "configmap", "irsteps-executor-plugin"):
        files.append(os.path.join(ARGO, "plugin", "rbac.yaml"))
        c.report(env.get("ARGO_EXECUTOR_PLUGINS") == "true", "ARGO_EXECUTOR_PLUGINS=true on the workflow controller",
                 "kubectl -n <argo namespace> set env deployment/workflow-controller ARGO_EXECUTOR_PLUGINS=true")
        for home, _ in namespaced:
            c.report(home == ns, f"the plugin is in the namespaced controller's namespace ({home})",
                     "a namespaced Argo finds executor plugins only in its own namespace: install into " + home)
        c.report(c.exists("-n", ns, "configmap", "irsteps-plugin-policy"), "ConfigMap irsteps-plugin-policy",
                 "apply the plugin component (workflows/argo/plugin)")
        for account in ["irsteps-executor-plugin"] + [f"irsteps-playbook-{p}" for p in PLAYBOOKS]:
            secret = account + ".service-account-token"
            rc, token, _ = c.kubectl("-n", ns, "get", "secret", secret, "-o", "jsonpath={.data.token}")
            c.report(rc == 0 and bool(token), f"token Secret {secret} filled in",
                     "apply the plugin component after its ServiceAccounts exist; Kubernetes fills the token in")

    # The Falco trigger.
    if c.exists("-n", ns, "sensor", "falco-container-compromise"):
        files.append(os.path.join(ARGO, "events", "falco.yaml"))
        for crd in ["eventbus.argoproj.io", "eventsources.argoproj.io", "sensors.argoproj.io"]:
            c.report(c.exists("crd", crd), f"Argo Events CRD {crd}",
                     "install Argo Events: https://argoproj.github.io/argo-events/installation/")
        c.report(c.exists("-n", ns, "eventbus", "default"), "EventBus default",
                 "apply the events component (workflows/argo/events)")
        c.report(c.exists("-n", ns, "secret", "irsteps-falco-webhook"), "Secret irsteps-falco-webhook (key token)",
                 f"kubectl -n {ns} create secret generic irsteps-falco-webhook "
                 "--from-literal=token=\"$(openssl rand -hex 32)\"")

    # The Alertmanager trigger.
    if c.exists("-n", ns, "sensor", "alertmanager-playbooks"):
        files.append(os.path.join(ARGO, "events", "alertmanager.yaml"))
        c.report(c.exists("-n", ns, "eventbus", "default"), "EventBus default",
                 "apply the events component (workflows/argo/events)")
        c.report(c.exists("-n", ns, "secret", "irsteps-alertmanager-webhook"),
                 "Secret irsteps-alertmanager-webhook (key token)",
                 f"kubectl -n {ns} create secret generic irsteps-alertmanager-webhook "
                 "--from-literal=token=\"$(openssl rand -hex 32)\" (and the same token in Alertmanager's "
                 "credentials_file, workflows/prometheus/alertmanager-receiver.yaml)")

    # What each ServiceAccount may do, against what the shipped Roles give it.
    for account, wanted in sorted(granted(files, ns).items()):
        if not c.exists("-n", ns, "serviceaccount", account):
            c.report(False, f"ServiceAccount {account}", "kubectl apply -k workflows/argo (or your overlay)")
            continue
        ordered = sorted(wanted, key=lambda w: tuple(x or "" for x in w))
        allowed = access_reviews(c, ns, account, ordered)
        lacking = [f"{verb} {resource}" + (f".{group}" if group else "") +
                   (" in every namespace" if where is None else f" in {where}")
                   for (where, group, resource, verb), yes in zip(ordered, allowed) if not yes]
        c.report(not lacking, f"ServiceAccount {account}: {len(wanted)} permissions of its Roles" +
                 ("" if not lacking else " (lacks: " + "; ".join(lacking) + ")"),
                 "re-apply the install's RBAC (kubectl apply -k ...); a binding edited or removed by hand "
                 "takes these away")

    print(f"{c.missing} missing" if c.missing else "all checks hold")
    return 1 if c.missing else 0


def check_version(c, controllers):
    for d in controllers:
        label = (d["metadata"].get("labels") or {}).get("app.kubernetes.io/version", "")
        images = [x.get("image", "") for x in d["spec"]["template"]["spec"].get("containers", [])]
        tags = [i.rsplit(":", 1)[1] for i in images if ":" in i.rsplit("/", 1)[-1] and "@" not in i]
        found = None
        for text in [label] + tags:
            m = re.match(r"^v?(\d+)\.(\d+)", text or "")
            if m:
                found = (int(m.group(1)), int(m.group(2)), text)
                break
        where = f"{d['metadata']['namespace']}/{d['metadata']['name']}"
        if found is None:
            c.note(f"the version of the workflow controller {where} is not in its image tag or labels: "
                   "check by hand that it is 3.6 or later")
            continue
        c.report(found[:2] >= (3, 6), f"Argo Workflows {found[2]} ({where}) is 3.6 or later",
                 "upgrade Argo Workflows: the playbooks use spec.synchronization.mutexes (3.6+)")


def check_artifact_repository(c, ns, controllers):
    rc, out, _ = c.kubectl("-n", ns, "get", "configmap", "artifact-repositories", "-o", "json")
    if rc == 0:
        cm = json.loads(out)
        key = (cm["metadata"].get("annotations") or {}).get("workflows.argoproj.io/default-artifact-repository", "")
        if key and key in (cm.get("data") or {}):
            c.report(True, f"artifact repository: ConfigMap {ns}/artifact-repositories, key {key}")
            return
    for d in controllers:
        name = "workflow-controller-configmap"
        for container in d["spec"]["template"]["spec"].get("containers", []):
            argv = (container.get("command") or []) + (container.get("args") or [])
            for i, a in enumerate(argv):
                if a.startswith("--configmap="):
                    name = a.split("=", 1)[1]
                elif a == "--configmap" and i + 1 < len(argv):
                    name = argv[i + 1]
        rc, out, _ = c.kubectl("-n", d["metadata"]["namespace"], "get", "configmap", name, "-o", "json")
        if rc == 0 and (json.loads(out).get("data") or {}).get("artifactRepository", "").strip():
            c.report(True, f"artifact repository: ConfigMap {d['metadata']['namespace']}/{name}, artifactRepository")
            return
    c.report(False, f"an artifact repository for {ns}",
             f"configure one (S3, GCS, ...): the ConfigMap artifact-repositories in {ns} with the annotation "
             "workflows.argoproj.io/default-artifact-repository, or artifactRepository in the controller's "
             "ConfigMap; the snapshot step's evidence is an output artifact")


def json_items(text):
    return json.loads(text).get("items", [])


def access_reviews(c, ns, account, wanted):
    """Whether the API server allows each (namespace or None, apiGroup,
    resource, verb) to the ServiceAccount: one SubjectAccessReview each, as
    the account with its groups, all in one kubectl call."""
    user = f"system:serviceaccount:{ns}:{account}"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    items = []
    for where, group, resource, verb in wanted:
        name, _, sub = resource.partition("/")
        attributes = {"group": group, "resource": name, "verb": verb}
        if sub:
            attributes["subresource"] = sub
        if where is not None:
            attributes["namespace"] = where
        items.append({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                      "spec": {"user": user, "groups": groups, "resourceAttributes": attributes}})
    rc, out, err = c.kubectl_input(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
                                   "create", "-f", "-", "-o", "json")
    if rc != 0:
        raise Unreachable("SubjectAccessReviews for " + user + ": " + err.strip())
    # kubectl prints one JSON object per item created, one after the other.
    answers, at, decoder = [], 0, json.JSONDecoder()
    while out[at:].strip():
        at += len(out[at:]) - len(out[at:].lstrip())
        answer, at = decoder.raw_decode(out, at)
        answers.append(answer)
    if len(answers) != len(wanted):
        raise Unreachable(f"SubjectAccessReviews for {user}: {len(answers)} answers to {len(wanted)} questions")
    return [bool(a.get("status", {}).get("allowed")) for a in answers]


if __name__ == "__main__":
    sys.exit(main())
