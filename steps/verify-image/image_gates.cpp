// The gates of verify-image IMAGE after its signatures: the SBOM against a
// baseline and the vulnerability report, from files or from the verified
// attestations among the image's referrers.
#include "image_checks.hpp"

#include "gates.hpp"
#include "ir/core/json.hpp"
#include "ir/core/time.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace ir::steps::verify_image {
namespace {

// The predicate of the first verified in-toto attestation (a DSSE bundle
// whose subject the verifier matched to the image) of a wanted type.
template <class Wanted>
std::optional<json::value> attested_predicate(const Checked& checked, Wanted wanted) {
  for (const auto& check : checked.checks) {
    if (!check.verified || check.result.payload_type != "application/vnd.in-toto+json") continue;
    auto statement = parse_json(check.result.payload, "in-toto statement");
    if (!statement) continue;
    if (!wanted(string_at(*statement, {"predicateType"}))) continue;
    if (const auto* predicate = find(*statement, {"predicate"}); predicate != nullptr) return *predicate;
  }
  return std::nullopt;
}

}  // namespace

std::optional<json::value> sbom_attestation(const Checked& checked) {
  return attested_predicate(checked, [](const std::string& type) {
    return type.starts_with("https://cyclonedx.org/bom") || type.starts_with("https://spdx.dev/Document");
  });
}

namespace {

// cosign attest --type vuln.
constexpr std::string_view vuln_predicate_type = "https://cosign.sigstore.dev/attestation/vuln/v1";

std::optional<json::value> vulnerability_attestation(const Checked& checked) {
  return attested_predicate(checked, [](const std::string& type) { return type == vuln_predicate_type; });
}

}  // namespace

Result<json::value> read_json_file(const std::string& path, const std::string& parameter) {
  auto text = read_file(path);
  if (!text) return text.error().with("parameter " + parameter);
  auto doc = parse_json(*text, path);
  if (!doc) return doc.error().with("parameter " + parameter);
  return doc;
}

namespace {

std::string first_items(const std::vector<std::string>& items, std::size_t limit = 20) {
  std::string text;
  for (std::size_t i = 0; i < items.size() && i < limit; ++i) text += (i == 0 ? "" : ", ") + items[i];
  if (items.size() > limit) text += fmt::format(" and {} more", items.size() - limit);
  return text;
}

Result<void> sbom_gate(const Options& options, const Checked& checked,
                       const std::optional<json::value>& baseline_doc, Context& context) {
  if (!baseline_doc) return {};
  Report& report = context.report();
  auto baseline = parse_sbom(*baseline_doc, options.sbom_baseline_image.empty()
                                                ? "parameter sbom-baseline"
                                                : "the SBOM attestation of --sbom-baseline-image");
  if (!baseline) return baseline.error();
  json::value current_doc;
  if (!options.sbom_path.empty()) {
    auto doc = read_json_file(options.sbom_path, "sbom");
    if (!doc) return doc.error();
    current_doc = std::move(*doc);
  } else if (auto attested = sbom_attestation(checked)) {
    current_doc = std::move(*attested);
  } else {
    return Error(Code::rejected,
                 "no verified SBOM attestation to compare with --sbom-baseline (give --sbom)");
  }
  auto current =
      parse_sbom(current_doc, options.sbom_path.empty() ? "the SBOM attestation" : "parameter sbom");
  if (!current) return current.error();
  const auto diff = diff_sboms(*baseline, *current);
  report.set_output("sbom-packages", std::to_string(current->packages.size()));
  report.set_output("sbom-added", std::to_string(diff.added.size()));
  report.set_output("sbom-removed", std::to_string(diff.removed.size()));
  report.set_output("sbom-changed", std::to_string(diff.changed.size()));
  std::string lines;
  for (const auto& a : diff.added) lines += "+ " + a + "\n";
  for (const auto& r : diff.removed) lines += "- " + r + "\n";
  for (const auto& c : diff.changed) lines += "~ " + c + "\n";
  report.set_output("sbom-diff", lines);
  if (!diff.empty() && options.fail_on_sbom_change) {
    std::string reason = "the SBOM differs from the baseline:";
    if (!diff.added.empty()) reason += " added " + first_items(diff.added) + ";";
    if (!diff.removed.empty()) reason += " removed " + first_items(diff.removed) + ";";
    if (!diff.changed.empty()) reason += " changed " + first_items(diff.changed) + ";";
    reason.pop_back();
    return Error(Code::rejected, reason);
  }
  if (!diff.empty())
    context.warn(fmt::format("the SBOM differs from the baseline: {} added, {} removed, {} changed",
                             diff.added.size(), diff.removed.size(), diff.changed.size()));
  return {};
}

// The report of a verified vulnerability attestation: its predicate's
// scanner.result is the scanner's own JSON; the scan time is the report's,
// else the attestation's scanFinishedOn.
Result<VulnerabilityReport> attested_report(const Checked& checked, Context& context) {
  auto predicate = vulnerability_attestation(checked);
  if (!predicate)
    return Error(Code::rejected,
                 "no verified vulnerability attestation (cosign attest --type vuln) to gate on");
  const auto* result = find(*predicate, {"scanner", "result"});
  if (result == nullptr) return Error(Code::rejected, "the vulnerability attestation has no scanner.result");
  auto parsed = parse_vulnerability_report(*result, "the vulnerability attestation's scanner.result");
  if (!parsed) return Error(Code::rejected, parsed.error().message());
  if (!parsed->created) {
    if (auto finished = parse_utc(string_at(*predicate, {"metadata", "scanFinishedOn"})))
      parsed->created = *finished;
  }
  std::string scanner = string_at(*predicate, {"scanner", "uri"});
  if (const std::string version = string_at(*predicate, {"scanner", "version"}); !version.empty())
    scanner += (scanner.empty() ? "" : " ") + version;
  context.report().set_output("vulnerability-scanner", scanner.empty() ? parsed->scanner : scanner);
  return parsed;
}

Result<void> vulnerability_gate(const Options& options, const Checked& checked, const std::string& digest,
                                Context& context) {
  Result<VulnerabilityReport> parsed = Error(Code::internal, "no report");
  if (options.vulnerability_attestation) {
    parsed = attested_report(checked, context);
  } else if (!options.vulnerability_report_path.empty()) {
    auto doc = read_json_file(options.vulnerability_report_path, "vulnerability-report");
    if (!doc) return doc.error();
    parsed = parse_vulnerability_report(*doc, "parameter vulnerability-report");
  } else {
    return {};
  }
  if (!parsed) return parsed.error();
  GatePolicy policy;
  policy.max_severity = options.max_severity;
  policy.ignored = options.ignored_vulnerabilities;
  policy.max_age = options.max_report_age;
  auto gate = apply_gate(*parsed, policy, digest, now());
  if (!gate) return gate.error();
  Report& report = context.report();
  for (const auto severity :
       {Severity::critical, Severity::high, Severity::medium, Severity::low, Severity::unknown}) {
    std::string name(severity_name(severity));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    report.set_output("vulnerabilities-" + name, std::to_string(gate->counts[severity]));
  }
  report.set_output("vulnerabilities-ignored", std::to_string(gate->ignored));
  report.set_output("vulnerabilities-blocking", std::to_string(gate->blocking.size()));
  if (gate->blocking.empty()) return {};
  std::vector<std::string> listed;
  for (const auto& f : gate->blocking)
    listed.push_back(f.id + " (" + std::string(severity_name(f.severity)) + ", " + f.package + " " +
                     f.installed + (f.fixed.empty() ? ", no fix" : ", fixed in " + f.fixed) + ")");
  return Error(Code::rejected,
               fmt::format("{} vulnerabilit{} above {}: {}", listed.size(), listed.size() == 1 ? "y" : "ies",
                           severity_name(options.max_severity), first_items(listed)));
}

}  // namespace

Result<void> run_gates(const Options& options, const Checked& checked, const std::string& digest,
                       const std::optional<json::value>& sbom_baseline, Context& context) {
  if (auto ok = sbom_gate(options, checked, sbom_baseline, context); !ok) return ok;
  return vulnerability_gate(options, checked, digest, context);
}

}  // namespace ir::steps::verify_image
