// verify-image's SBOM comparison and vulnerability gate over documents in
// the shapes CycloneDX 1.5, SPDX 2.3, Trivy and Grype write.
#include "gates.hpp"

#include "support/catch.hpp"

using namespace ir;
using namespace ir::steps::verify_image;

namespace {

json::value doc(std::string_view text) {
  auto parsed = parse_json(text, "test document");
  REQUIRE(parsed);
  return *parsed;
}

const char* const cyclonedx = R"({
  "bomFormat": "CycloneDX", "specVersion": "1.5",
  "components": [
    {"type": "library", "name": "openssl", "version": "3.0.11-1~deb12u2",
     "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"},
    {"type": "library", "name": "core", "version": "7.23.2", "purl": "pkg:npm/%40babel/core@7.23.2",
     "components": [{"type": "library", "name": "json5", "purl": "pkg:npm/json5@2.2.3"}]},
    {"type": "operating-system", "name": "debian", "version": "12.2"}
  ]})";

const char* const spdx = R"({
  "spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT",
  "packages": [
    {"name": "openssl", "versionInfo": "3.0.13-1~deb12u1", "externalRefs": [
      {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
       "referenceLocator": "pkg:deb/debian/openssl@3.0.13-1~deb12u1?arch=amd64"}]},
    {"name": "core", "versionInfo": "7.23.2", "externalRefs": [
      {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/%40babel/core@7.23.2"}]},
    {"name": "event-stream", "versionInfo": "3.3.6", "externalRefs": [
      {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/event-stream@3.3.6"}]},
    {"name": "no-purl", "versionInfo": "1"}
  ]})";

}  // namespace

TEST_CASE("SBOMs: CycloneDX and SPDX packages keyed by purl without version", "[unit][verify-image]") {
  auto a = parse_sbom(doc(cyclonedx), "a");
  REQUIRE(a);
  CHECK(a->format == "CycloneDX");
  CHECK(a->packages.size() == 3);  // nested components count; no purl, no package
  CHECK(a->packages.at("pkg:deb/debian/openssl") == "3.0.11-1~deb12u2");
  CHECK(a->packages.at("pkg:npm/%40babel/core") == "7.23.2");
  CHECK(a->packages.at("pkg:npm/json5") == "2.2.3");  // the version from the purl
  auto b = parse_sbom(doc(spdx), "b");
  REQUIRE(b);
  CHECK(b->format == "SPDX");
  CHECK(b->packages.size() == 3);

  const auto diff = diff_sboms(*a, *b);
  CHECK(diff.added == std::vector<std::string>{"pkg:npm/event-stream@3.3.6"});
  CHECK(diff.removed == std::vector<std::string>{"pkg:npm/json5@2.2.3"});
  CHECK(diff.changed ==
        std::vector<std::string>{"pkg:deb/debian/openssl 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1"});
  CHECK(diff_sboms(*a, *a).empty());

  auto neither = parse_sbom(doc(R"({"packages": []})"), "parameter sbom");
  REQUIRE(!neither);
  CHECK(neither.error().code() == Code::invalid_input);
  CHECK(neither.error().message().find("parameter sbom") != std::string::npos);
}

TEST_CASE("vulnerability reports: Trivy and Grype, severities, ignores, age and subject",
          "[unit][verify-image]") {
  const std::string digest = "sha256:" + std::string(64, 'a');
  const auto trivy = doc(R"({
    "SchemaVersion": 2, "CreatedAt": "2026-11-26T10:00:00.123456789Z", "ArtifactName": "ghcr.io/acme/api:1.4.2",
    "Metadata": {"RepoDigests": ["ghcr.io/acme/api@sha256:)" +
                         std::string(64, 'a') + R"("]},
    "Results": [
      {"Target": "debian 12", "Vulnerabilities": [
        {"VulnerabilityID": "CVE-2024-0001", "PkgName": "openssl", "InstalledVersion": "3.0.11", "FixedVersion": "3.0.13", "Severity": "CRITICAL"},
        {"VulnerabilityID": "CVE-2024-0002", "PkgName": "zlib", "InstalledVersion": "1.2.13", "Severity": "HIGH"},
        {"VulnerabilityID": "CVE-2024-0003", "PkgName": "bash", "InstalledVersion": "5.2", "Severity": "LOW"}]},
      {"Target": "app/package-lock.json", "Vulnerabilities": [
        {"VulnerabilityID": "CVE-2024-0002", "PkgName": "zlib", "InstalledVersion": "1.2.13", "Severity": "HIGH"},
        {"VulnerabilityID": "GHSA-xxxx-yyyy-zzzz", "PkgName": "json5", "InstalledVersion": "2.2.1", "Severity": "MEDIUM"}]},
      {"Target": "no findings"}]})");
  auto report = parse_vulnerability_report(trivy, "r");
  REQUIRE(report);
  CHECK(report->scanner == "Trivy");
  REQUIRE(report->created);
  const auto at = *parse_utc("2026-11-26T12:00:00Z");

  GatePolicy policy;
  policy.max_severity = Severity::medium;
  auto gate = apply_gate(*report, policy, digest, at);
  REQUIRE(gate);
  CHECK(gate->counts[Severity::critical] == 1);
  CHECK(gate->counts[Severity::high] == 1);  // the same id and package once
  CHECK(gate->counts[Severity::medium] == 1);
  CHECK(gate->counts[Severity::low] == 1);
  REQUIRE(gate->blocking.size() == 2);
  CHECK(gate->blocking[0].id == "CVE-2024-0001");
  CHECK(gate->blocking[0].fixed == "3.0.13");

  policy.ignored = {"CVE-2024-0001", "CVE-2024-0002"};
  gate = apply_gate(*report, policy, digest, at);
  REQUIRE(gate);
  CHECK(gate->blocking.empty());
  CHECK(gate->ignored == 2);

  policy.max_age = std::chrono::hours(1);
  auto stale = apply_gate(*report, policy, digest, at);
  REQUIRE(!stale);
  CHECK(stale.error().code() == Code::rejected);
  CHECK(stale.error().message().find("older than --max-report-age") != std::string::npos);
  policy.max_age = std::chrono::hours(3);
  CHECK(apply_gate(*report, policy, digest, at));

  auto other = apply_gate(*report, policy, "sha256:" + std::string(64, 'b'), at);
  REQUIRE(!other);
  CHECK(other.error().message().find("is about ghcr.io/acme/api@sha256:aaaa") != std::string::npos);

  const auto grype = doc(R"({
    "matches": [
      {"vulnerability": {"id": "CVE-2023-1111", "severity": "High", "fix": {"versions": ["1.2.4"], "state": "fixed"}},
       "artifact": {"name": "libfoo", "version": "1.2.3"}},
      {"vulnerability": {"id": "CVE-2023-2222", "severity": "Negligible"}, "artifact": {"name": "libbar", "version": "0.1"}}],
    "source": {"type": "image", "target": {"manifestDigest": ")" +
                         digest + R"("}},
    "descriptor": {"name": "grype", "timestamp": "2026-11-26T11:30:00Z"}})");
  auto grype_report = parse_vulnerability_report(grype, "g");
  REQUIRE(grype_report);
  CHECK(grype_report->scanner == "Grype");
  GatePolicy strict;
  strict.max_severity = Severity::low;
  strict.max_age = std::chrono::hours(1);
  auto grype_gate = apply_gate(*grype_report, strict, digest, at);
  REQUIRE(grype_gate);
  REQUIRE(grype_gate->blocking.size() == 1);
  CHECK(grype_gate->blocking[0].id == "CVE-2023-1111");
  CHECK(grype_gate->blocking[0].fixed == "1.2.4");

  // A report without a scan time cannot satisfy --max-report-age.
  auto undated = parse_vulnerability_report(doc(R"({"Results": []})"), "u");
  REQUIRE(undated);
  CHECK(!apply_gate(*undated, strict, digest, at));
  CHECK(!parse_vulnerability_report(doc(R"({"something": 1})"), "v"));
}
