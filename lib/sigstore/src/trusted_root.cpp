#include "ir/sigstore/trusted_root.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/json.hpp"
#include "pkix.hpp"

#include <boost/json.hpp>

namespace ir::sigstore {
namespace {

Result<std::string> base64_field(const json::value& node, std::initializer_list<std::string_view> path,
                                 const std::string& where) {
  const auto* value = find(node, path);
  if (value == nullptr || !value->is_string() || value->get_string().empty())
    return invalid(where + ": missing");
  auto decoded = base64_decode(value->get_string());
  if (!decoded) return invalid(where + ": not base64");
  return decoded;
}

Result<TimeRange> time_range(const json::value& node, const std::string& where) {
  TimeRange range;
  const auto* start = find(node, {"start"});
  if (start == nullptr || !start->is_string())
    return invalid(where + ".start: missing (a trust root must say since when it trusts a key)");
  auto parsed = parse_utc(start->get_string());
  if (!parsed) return parsed.error().with(where + ".start");
  range.start = *parsed;
  // protobuf JSON writers may spell an absent end as null.
  if (const auto* end = find(node, {"end"}); end != nullptr && !end->is_null()) {
    if (!end->is_string()) return invalid(where + ".end: not a time");
    auto end_time = parse_utc(end->get_string());
    if (!end_time) return end_time.error().with(where + ".end");
    range.end = *end_time;
  }
  return range;
}

Result<std::vector<LogKey>> log_keys(const json::value& root, std::string_view field) {
  std::vector<LogKey> keys;
  const auto* list = find(root, {field});
  if (list == nullptr) return keys;
  if (!list->is_array()) return invalid(std::string(field) + ": not an array");
  for (std::size_t i = 0; i < list->get_array().size(); ++i) {
    const auto& entry = list->get_array()[i];
    const std::string where = std::string(field) + "[" + std::to_string(i) + "]";
    LogKey key;
    key.base_url = string_at(entry, {"baseUrl"});
    auto id = base64_field(entry, {"logId", "keyId"}, where + ".logId.keyId");
    if (!id) return id.error();
    key.key_id = std::move(*id);
    auto der = base64_field(entry, {"publicKey", "rawBytes"}, where + ".publicKey.rawBytes");
    if (!der) return der.error();
    auto decoded = detail::public_key_from_der(*der);
    if (!decoded) return invalid(where + ".publicKey.rawBytes: not a public key");
    key.key = std::shared_ptr<EVP_PKEY>(decoded->release(), detail::PkeyFree{});
    key.public_key_der = std::move(*der);
    key.key_details = string_at(entry, {"publicKey", "keyDetails"});
    const auto* valid_for = find(entry, {"publicKey", "validFor"});
    if (valid_for == nullptr) return invalid(where + ".publicKey.validFor: missing");
    auto range = time_range(*valid_for, where + ".publicKey.validFor");
    if (!range) return range.error();
    key.valid_for = *range;
    keys.push_back(std::move(key));
  }
  return keys;
}

Result<std::vector<Authority>> authorities(const json::value& root, std::string_view field) {
  std::vector<Authority> result;
  const auto* list = find(root, {field});
  if (list == nullptr) return result;
  if (!list->is_array()) return invalid(std::string(field) + ": not an array");
  for (std::size_t i = 0; i < list->get_array().size(); ++i) {
    const auto& entry = list->get_array()[i];
    const std::string where = std::string(field) + "[" + std::to_string(i) + "]";
    Authority authority;
    authority.uri = string_at(entry, {"uri"});
    const auto* certs = find(entry, {"certChain", "certificates"});
    if (certs == nullptr || !certs->is_array() || certs->get_array().empty())
      return invalid(where + ".certChain.certificates: missing");
    for (const auto& cert : certs->get_array()) {
      auto der = base64_field(cert, {"rawBytes"}, where + ".certChain.certificates[].rawBytes");
      if (!der) return der.error();
      auto decoded = detail::cert_from_der(*der);
      if (!decoded) return invalid(where + ".certChain: not a DER certificate");
      authority.chain.emplace_back(decoded->release(), detail::X509Free{});
      authority.chain_der.push_back(std::move(*der));
    }
    const auto* valid_for = find(entry, {"validFor"});
    if (valid_for == nullptr) return invalid(where + ".validFor: missing");
    auto range = time_range(*valid_for, where + ".validFor");
    if (!range) return range.error();
    authority.valid_for = *range;
    result.push_back(std::move(authority));
  }
  return result;
}

}  // namespace

const LogKey* TrustedRoot::tlog(std::string_view key_id) const {
  for (const auto& key : tlogs)
    if (key.key_id == key_id) return &key;
  return nullptr;
}

const LogKey* TrustedRoot::ctlog(std::string_view key_id) const {
  for (const auto& key : ctlogs)
    if (key.key_id == key_id) return &key;
  return nullptr;
}

Result<TrustedRoot> parse_trusted_root(std::string_view text, std::string_view what) {
  auto doc = parse_json(text, what);
  if (!doc) return doc.error();
  if (!doc->is_object()) return invalid(std::string(what) + ": not a JSON object");
  const std::string media_type = string_at(*doc, {"mediaType"});
  if (media_type.rfind("application/vnd.dev.sigstore.trustedroot", 0) != 0)
    return invalid(std::string(what) + ": mediaType '" + media_type + "' is not a Sigstore trusted root");
  TrustedRoot root;
  auto tlogs = log_keys(*doc, "tlogs");
  if (!tlogs) return tlogs.error().with(std::string(what));
  root.tlogs = std::move(*tlogs);
  auto ctlogs = log_keys(*doc, "ctlogs");
  if (!ctlogs) return ctlogs.error().with(std::string(what));
  root.ctlogs = std::move(*ctlogs);
  auto cas = authorities(*doc, "certificateAuthorities");
  if (!cas) return cas.error().with(std::string(what));
  root.certificate_authorities = std::move(*cas);
  auto tsas = authorities(*doc, "timestampAuthorities");
  if (!tsas) return tsas.error().with(std::string(what));
  root.timestamp_authorities = std::move(*tsas);
  return root;
}

Result<TrustedRoot> load_trusted_root(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  return parse_trusted_root(*text, path);
}

}  // namespace ir::sigstore
