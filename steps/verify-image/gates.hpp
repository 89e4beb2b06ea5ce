// The two gates after the signatures (supply-chain playbook: "Compare SBOM",
// `trivy image --severity CRITICAL,HIGH`):
//  - SBOM: the image's packages (CycloneDX JSON or SPDX JSON) against a
//    baseline, keyed by package URL without its version: added, removed,
//    changed;
//  - vulnerabilities: a Trivy or Grype JSON report, counted by severity, with
//    findings above --max-severity blocking unless their id is ignored, and a
//    report older than --max-report-age, or about another image, refused.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"
#include "ir/core/time.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ir::steps::verify_image {

// purl without version, qualifiers and subpath -> version.
struct Sbom {
  std::string format;  // "CycloneDX" or "SPDX"
  std::map<std::string, std::string> packages;
};

// Code::invalid_input naming `what` when the document is neither format.
[[nodiscard]] Result<Sbom> parse_sbom(const json::value& document, std::string_view what);

struct SbomDiff {
  std::vector<std::string> added;    // "pkg:npm/left-pad@1.3.0"
  std::vector<std::string> removed;  // "pkg:npm/left-pad@1.2.0"
  std::vector<std::string> changed;  // "pkg:npm/left-pad 1.2.0 -> 1.3.0"
  [[nodiscard]] bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
[[nodiscard]] SbomDiff diff_sboms(const Sbom& baseline, const Sbom& current);

enum class Severity { unknown, low, medium, high, critical };
[[nodiscard]] std::optional<Severity> parse_severity(std::string_view text);
[[nodiscard]] std::string_view severity_name(Severity severity);

struct Finding {
  std::string id;  // CVE-..., GHSA-...
  Severity severity = Severity::unknown;
  std::string package;
  std::string installed;
  std::string fixed;
};

struct VulnerabilityReport {
  std::string scanner;               // "Trivy" or "Grype"
  std::optional<TimePoint> created;  // when the scan ran, if the report says
  std::vector<std::string> digests;  // image digests the report names
  std::vector<Finding> findings;     // one per id and package
};
[[nodiscard]] Result<VulnerabilityReport> parse_vulnerability_report(const json::value& document,
                                                                     std::string_view what);

struct GatePolicy {
  Severity max_severity = Severity::critical;  // the highest severity tolerated
  std::set<std::string> ignored;               // --ignore-cve
  std::optional<std::chrono::milliseconds> max_age;
};

struct GateResult {
  std::map<Severity, int> counts;  // every finding, ignored ones included
  std::vector<Finding> blocking;   // above the tolerated severity, not ignored
  int ignored = 0;
};
// Code::rejected when the report is too old or about another image.
[[nodiscard]] Result<GateResult> apply_gate(const VulnerabilityReport& report, const GatePolicy& policy,
                                            const std::string& image_digest, TimePoint at);

}  // namespace ir::steps::verify_image
