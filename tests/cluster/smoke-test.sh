#!/usr/bin/env bash
# Checks with kubectl that a cluster made by start.sh really works: reads,
# writes through the controllers, the NetworkPolicy encoding that needs the
# reflect2 patch, empty strings in custom resources (the zero-value patch),
# server-side apply, RBAC, service-account token Secrets, namespace deletion,
# and an API server stop/start through ctl.sh.
#
# Usage: smoke-test.sh [STATE_DIR]   (a running cluster; default as start.sh)
# Last line: "N passed, N failed"; exit status 1 if anything failed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_log_prefix=smoke
# shellcheck source=lib.sh
source "$HERE/lib.sh"
d="${1:-${IRSTEPS_CLUSTER_DIR:-/tmp/irsteps-cluster}}"
[[ -f "$d/kubeconfig" ]] || die "no cluster in $d (run start.sh first)"
STATE_DIR="$(cd "$d" && pwd)"
export KUBECONFIG="$STATE_DIR/kubeconfig"

# Any kubectl works; Debian's kubernetes-client (1.20) matches the server.
command -v kubectl >/dev/null || ensure_pkgs kubernetes-client
k() { kubectl --request-timeout=20s "$@" 2>&1; }

# poll TIMEOUT CMD... : retry CMD until it succeeds (controllers are async)
poll() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do ((SECONDS < deadline)) || return 1; sleep 0.5; done
}

NS="smoke-$RANDOM"
apiserver_alive() { component_pid kube-apiserver >/dev/null && [[ "$(k get --raw /readyz)" == ok ]]; }

check "get namespaces" bash -c "kubectl get ns default kube-system >/dev/null"
check "create namespace" k create ns "$NS"

check "deployment -> replicaset -> 2 pods" bash -c "
  kubectl -n $NS create deployment web --image=registry.invalid/web:1 --replicas=2 >/dev/null &&
  for i in \$(seq 60); do
    n=\$(kubectl -n $NS get pods -l app=web --no-headers 2>/dev/null | wc -l)
    rs=\$(kubectl -n $NS get rs -l app=web --no-headers 2>/dev/null | wc -l)
    [[ \$n == 2 && \$rs == 1 ]] && exit 0; sleep 0.5
  done; kubectl -n $NS get rs,pods; exit 1"

np_yaml="apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-ingress
  namespace: $NS
  labels: {a: b, c: d}
  annotations: {note: \"map-heavy object\"}
spec:
  podSelector:
    matchLabels: {app: web, tier: front}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {team: ops, env: test}
    ports:
    - {protocol: TCP, port: 80}
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}"
# Unpatched reflect2 makes exactly these requests fail (or crash the server).
check "kubectl apply NetworkPolicy (x2) and API server survives" bash -c "
  printf '%s\n' \"\$1\" | kubectl apply -f - && printf '%s\n' \"\$1\" | sed 's/port: 80/port: 8080/' | kubectl apply -f - &&
  kubectl -n $NS get networkpolicy deny-ingress -o yaml | grep -q 'port: 8080'" _ "$np_yaml"
check "API server still ready" apiserver_alive

check "server-side apply (+ conflict detection)" bash -c "
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: $NS}\ndata: {a: \"1\"}\n' | kubectl apply --server-side -f - &&
  ! printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: $NS}\ndata: {a: \"2\"}\n' | kubectl apply --server-side --field-manager=other -f - 2>/dev/null &&
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: $NS}\ndata: {a: \"2\"}\n' | kubectl apply --server-side --field-manager=other --force-conflicts -f - &&
  [[ \$(kubectl -n $NS get cm ssa -o jsonpath='{.data.a}') == 2 ]]"

# Built with Go >= 1.16, the vendored kube-openapi/go-openapi type validators
# took every zero value for null and refused "" in any custom resource
# (patches/go-openapi-validate-go116-zero-value.patch); a wrong type must
# still be refused.
crd_yaml="apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.smoke.irsteps.test}
spec:
  group: smoke.irsteps.test
  scope: Namespaced
  names: {plural: things, singular: thing, kind: Thing, listKind: ThingList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              value: {type: string}"
thing() { printf 'apiVersion: smoke.irsteps.test/v1\nkind: Thing\nmetadata: {name: t, namespace: %s}\nspec: {value: %s}\n' "$NS" "$1"; }
check "custom resource: \"\" accepted, wrong type refused" bash -c "
  printf '%s\n' \"\$1\" | kubectl apply -f - >/dev/null &&
  kubectl wait --for condition=established crd/things.smoke.irsteps.test --timeout=60s >/dev/null &&
  printf '%s\n' \"\$2\" | kubectl apply -f - &&
  [[ -z \$(kubectl -n $NS get things.smoke.irsteps.test t -o jsonpath='{.spec.value}') ]] &&
  ! printf '%s\n' \"\$3\" | kubectl apply --validate=false -f - 2>/dev/null" _ "$crd_yaml" "$(thing '""')" "$(thing 3)"
kubectl delete crd things.smoke.irsteps.test --wait=false >/dev/null 2>&1 || true

check "auth can-i (admin yes, default SA no)" bash -c "
  [[ \$(kubectl auth can-i '*' '*') == yes ]] &&
  [[ \$(kubectl auth can-i create pods -n $NS --as=system:serviceaccount:$NS:default 2>/dev/null) == no ]]"

check "ServiceAccount gets a token Secret" bash -c "
  kubectl -n $NS create sa robot >/dev/null &&
  for i in \$(seq 40); do
    s=\$(kubectl -n $NS get secrets --field-selector type=kubernetes.io/service-account-token -o name | grep robot-token) && exit 0
    sleep 0.5
  done; exit 1"

check "events recorded (ReplicaSet, scheduler)" bash -c "
  for i in \$(seq 40); do
    kubectl -n $NS get events -o custom-columns=R:.reason --no-headers | grep -q SuccessfulCreate && exit 0; sleep 0.5
  done; exit 1"

check "stop-apiserver: API unreachable" bash -c "
  '$HERE/ctl.sh' '$STATE_DIR' stop-apiserver && ! kubectl --request-timeout=3s get ns >/dev/null 2>&1"
check "start-apiserver: same port, data kept" bash -c "
  '$HERE/ctl.sh' '$STATE_DIR' start-apiserver && kubectl -n $NS get cm ssa >/dev/null"
check "controllers work after the restart" bash -c "
  kubectl -n $NS scale deployment web --replicas=3 >/dev/null &&
  for i in \$(seq 60); do
    [[ \$(kubectl -n $NS get pods -l app=web --no-headers 2>/dev/null | wc -l) == 3 ]] && exit 0; sleep 0.5
  done; exit 1"

check "namespace deletion finishes" k delete ns "$NS" --wait=true --timeout=120s

echo "smoke: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
