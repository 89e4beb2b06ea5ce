#include "gates.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace ir::steps::verify_image {
namespace {

// "pkg:npm/%40scope/name@1.0.0?arch=x#sub" -> {"pkg:npm/%40scope/name", "1.0.0"}.
std::pair<std::string, std::string> split_purl(std::string_view purl) {
  purl = purl.substr(0, purl.find_first_of("?#"));
  // The version is after the last '@' that follows the last '/'.
  const auto slash = purl.rfind('/');
  const auto at = purl.rfind('@');
  if (at == std::string_view::npos || (slash != std::string_view::npos && at < slash))
    return {std::string(purl), ""};
  return {std::string(purl.substr(0, at)), std::string(purl.substr(at + 1))};
}

void add_package(Sbom& sbom, std::string_view purl, std::string version) {
  if (purl.empty()) return;
  auto [key, purl_version] = split_purl(purl);
  if (version.empty()) version = purl_version;
  sbom.packages[key] = std::move(version);
}

void cyclonedx_components(const json::value& list, Sbom& sbom) {
  if (!list.is_array()) return;
  for (const auto& component : list.get_array()) {
    add_package(sbom, string_at(component, {"purl"}), string_at(component, {"version"}));
    if (const auto* nested = find(component, {"components"}); nested != nullptr)
      cyclonedx_components(*nested, sbom);
  }
}

std::string text_of(const json::value* node) {
  if (node == nullptr) return {};
  if (node->is_string()) return std::string(node->get_string());
  if (node->is_number()) return boost::json::serialize(*node);
  return {};
}

}  // namespace

Result<Sbom> parse_sbom(const json::value& document, std::string_view what) {
  Sbom sbom;
  if (string_at(document, {"bomFormat"}) == "CycloneDX") {
    sbom.format = "CycloneDX";
    if (const auto* components = find(document, {"components"}); components != nullptr)
      cyclonedx_components(*components, sbom);
    return sbom;
  }
  if (string_at(document, {"spdxVersion"}).starts_with("SPDX-")) {
    sbom.format = "SPDX";
    const auto* packages = find(document, {"packages"});
    if (packages == nullptr || !packages->is_array()) return sbom;
    for (const auto& package : packages->get_array()) {
      const auto* refs = find(package, {"externalRefs"});
      if (refs == nullptr || !refs->is_array()) continue;
      for (const auto& ref : refs->get_array()) {
        if (string_at(ref, {"referenceType"}) == "purl")
          add_package(sbom, string_at(ref, {"referenceLocator"}), string_at(package, {"versionInfo"}));
      }
    }
    return sbom;
  }
  return invalid(std::string(what) +
                 ": neither a CycloneDX (bomFormat) nor an SPDX (spdxVersion) JSON document");
}

SbomDiff diff_sboms(const Sbom& baseline, const Sbom& current) {
  SbomDiff diff;
  const auto with_version = [](const std::string& key, const std::string& version) {
    return version.empty() ? key : key + "@" + version;
  };
  for (const auto& [key, version] : current.packages) {
    const auto it = baseline.packages.find(key);
    if (it == baseline.packages.end()) {
      diff.added.push_back(with_version(key, version));
    } else if (it->second != version) {
      diff.changed.push_back(key + " " + it->second + " -> " + version);
    }
  }
  for (const auto& [key, version] : baseline.packages)
    if (!current.packages.contains(key)) diff.removed.push_back(with_version(key, version));
  return diff;
}

std::optional<Severity> parse_severity(std::string_view text) {
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  if (upper == "CRITICAL") return Severity::critical;
  if (upper == "HIGH") return Severity::high;
  if (upper == "MEDIUM") return Severity::medium;
  if (upper == "LOW" || upper == "NEGLIGIBLE") return Severity::low;
  if (upper == "UNKNOWN") return Severity::unknown;
  return std::nullopt;
}

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::critical:
      return "CRITICAL";
    case Severity::high:
      return "HIGH";
    case Severity::medium:
      return "MEDIUM";
    case Severity::low:
      return "LOW";
    case Severity::unknown:
      break;
  }
  return "UNKNOWN";
}

Result<VulnerabilityReport> parse_vulnerability_report(const json::value& document, std::string_view what) {
  VulnerabilityReport report;
  const auto severity_of = [](std::string_view text) {
    return parse_severity(text).value_or(Severity::unknown);
  };
  if (const auto* results = find(document, {"Results"});
      results != nullptr || find(document, {"ArtifactName"})) {
    report.scanner = "Trivy";
    if (auto created = parse_utc(string_at(document, {"CreatedAt"})); created) report.created = *created;
    if (const auto* digests = find(document, {"Metadata", "RepoDigests"});
        digests != nullptr && digests->is_array()) {
      for (const auto& d : digests->get_array())
        if (d.is_string()) report.digests.emplace_back(d.get_string());
    }
    if (results == nullptr || !results->is_array()) return report;
    for (const auto& result : results->get_array()) {
      const auto* vulns = find(result, {"Vulnerabilities"});
      if (vulns == nullptr || !vulns->is_array()) continue;
      for (const auto& v : vulns->get_array()) {
        report.findings.push_back({string_at(v, {"VulnerabilityID"}), severity_of(string_at(v, {"Severity"})),
                                   string_at(v, {"PkgName"}), string_at(v, {"InstalledVersion"}),
                                   string_at(v, {"FixedVersion"})});
      }
    }
    return report;
  }
  if (const auto* matches = find(document, {"matches"}); matches != nullptr && matches->is_array()) {
    report.scanner = "Grype";
    if (auto created = parse_utc(string_at(document, {"descriptor", "timestamp"})); created)
      report.created = *created;
    const std::string target = string_at(document, {"source", "target", "manifestDigest"});
    if (!target.empty()) report.digests.push_back(target);
    if (const auto* digests = find(document, {"source", "target", "repoDigests"});
        digests != nullptr && digests->is_array()) {
      for (const auto& d : digests->get_array())
        if (d.is_string()) report.digests.emplace_back(d.get_string());
    }
    for (const auto& m : matches->get_array()) {
      std::string fixed;
      if (const auto* versions = find(m, {"vulnerability", "fix", "versions"});
          versions != nullptr && versions->is_array() && !versions->get_array().empty())
        fixed = text_of(&versions->get_array().front());
      report.findings.push_back(
          {string_at(m, {"vulnerability", "id"}), severity_of(string_at(m, {"vulnerability", "severity"})),
           string_at(m, {"artifact", "name"}), string_at(m, {"artifact", "version"}), fixed});
    }
    return report;
  }
  return invalid(std::string(what) + ": neither a Trivy (Results) nor a Grype (matches) JSON report");
}

Result<GateResult> apply_gate(const VulnerabilityReport& report, const GatePolicy& policy,
                              const std::string& image_digest, TimePoint at) {
  if (policy.max_age) {
    if (!report.created)
      return Error(
          Code::rejected,
          "the " + report.scanner + " report carries no scan time, so its age (--max-report-age) is unknown");
    if (at - *report.created > *policy.max_age)
      return Error(Code::rejected, "the " + report.scanner + " report is from " +
                                       format_utc(*report.created) + ", older than --max-report-age");
  }
  if (!report.digests.empty()) {
    const bool ours = std::any_of(report.digests.begin(), report.digests.end(), [&](const std::string& d) {
      return d == image_digest || d.ends_with("@" + image_digest);
    });
    if (!ours)
      return Error(Code::rejected, "the " + report.scanner + " report is about " + report.digests.front() +
                                       ", not " + image_digest);
  }
  GateResult result;
  std::set<std::pair<std::string, std::string>> seen;  // one count per id and package
  for (const auto& finding : report.findings) {
    if (!seen.insert({finding.id, finding.package}).second) continue;
    ++result.counts[finding.severity];
    if (policy.ignored.contains(finding.id)) {
      ++result.ignored;
      continue;
    }
    if (finding.severity > policy.max_severity) result.blocking.push_back(finding);
  }
  return result;
}

}  // namespace ir::steps::verify_image
