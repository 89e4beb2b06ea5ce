#include "certificate.hpp"

#include "ir/core/encoding.hpp"

#include <openssl/ct.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <optional>
#include <string_view>

namespace ir::sigstore::detail {
namespace {

Error rejected(std::string message) {
  return Error(Code::rejected, std::move(message));
}

std::string asn1_string(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// Fulcio's claim extensions: .1.1 to .1.6 hold raw strings, .1.8 onwards DER
// UTF8Strings.
std::string claim_value(X509_EXTENSION* ext, int arc) {
  const std::string raw = asn1_string(X509_EXTENSION_get_data(ext));
  if (arc < 8) return raw;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ASN1_UTF8STRING, decltype(&ASN1_UTF8STRING_free)> value(
      d2i_ASN1_UTF8STRING(nullptr, &p, static_cast<long>(raw.size())), &ASN1_UTF8STRING_free);
  if (!value) {
    ERR_clear_error();
    return {};
  }
  return asn1_string(value.get());
}

struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
struct SctListFree {
  void operator()(STACK_OF(SCT) * s) const { SCT_LIST_free(s); }
};

void put_uint(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

// A DER element at `at`: where its content starts and how long it is.
struct Element {
  unsigned char tag = 0;
  std::size_t content = 0;
  std::size_t length = 0;
  [[nodiscard]] std::size_t end() const { return content + length; }
};

std::optional<Element> element_at(std::string_view der, std::size_t at) {
  if (at + 2 > der.size()) return std::nullopt;
  Element e;
  e.tag = static_cast<unsigned char>(der[at]);
  if ((e.tag & 0x1F) == 0x1F) return std::nullopt;  // multi-byte tags: not in a TBSCertificate
  const auto first = static_cast<unsigned char>(der[at + 1]);
  std::size_t pos = at + 2;
  if (first < 0x80) {
    e.length = first;
  } else {
    const std::size_t count = first & 0x7F;
    if (count == 0 || count > 4 || pos + count > der.size()) return std::nullopt;
    for (std::size_t i = 0; i < count; ++i)
      e.length = (e.length << 8) | static_cast<unsigned char>(der[pos + i]);
    pos += count;
  }
  e.content = pos;
  if (e.length > der.size() - pos) return std::nullopt;
  return e;
}

std::string der_wrap(unsigned char tag, std::string_view content) {
  std::string out(1, static_cast<char>(tag));
  const std::size_t n = content.size();
  if (n < 0x80) {
    out += static_cast<char>(n);
  } else {
    std::string length;
    for (std::size_t v = n; v > 0; v >>= 8) length.insert(length.begin(), static_cast<char>(v & 0xFF));
    out += static_cast<char>(0x80 | length.size());
    out += length;
  }
  out += content;
  return out;
}

// The precertificate TBS cut out of the certificate's own TBS bytes: the
// Extensions ([3]) without the SCT list, the lengths around it written anew.
// Empty when the bytes are not laid out as expected; the caller then takes
// the slow road.
std::string tbs_without_sct(std::string_view tbs) {
  // 1.3.6.1.4.1.11129.2.4.2, as a DER OBJECT IDENTIFIER.
  static constexpr std::string_view sct_oid("\x06\x0a\x2b\x06\x01\x04\x01\xd6\x79\x02\x04\x02", 12);
  const auto outer = element_at(tbs, 0);
  if (!outer || outer->tag != 0x30 || outer->end() != tbs.size()) return {};
  std::string fields;
  bool removed = false;
  for (std::size_t at = outer->content; at < outer->end();) {
    const auto field = element_at(tbs, at);
    if (!field || field->end() > outer->end()) return {};
    if (field->tag != 0xA3) {
      fields += tbs.substr(at, field->end() - at);
      at = field->end();
      continue;
    }
    const auto list = element_at(tbs, field->content);
    if (!list || list->tag != 0x30 || list->end() != field->end()) return {};
    std::string kept;
    for (std::size_t e = list->content; e < list->end();) {
      const auto extension = element_at(tbs, e);
      if (!extension || extension->tag != 0x30 || extension->end() > list->end()) return {};
      if (tbs.substr(extension->content, sct_oid.size()) == sct_oid) {
        if (removed) return {};  // two SCT lists: let OpenSSL decide
        removed = true;
      } else {
        kept += tbs.substr(e, extension->end() - e);
      }
      e = extension->end();
    }
    // No extensions left: the field goes, as OpenSSL writes it.
    if (!kept.empty()) fields += der_wrap(0xA3, der_wrap(0x30, kept));
    at = field->end();
  }
  if (!removed) return {};
  return der_wrap(0x30, fields);
}

// The TBSCertificate the CT log signed: the leaf's, without its SCT list.
// Cut from the leaf's own bytes; copying the certificate through OpenSSL
// (which decodes its key again) only when they are laid out otherwise.
Result<std::string> precert_tbs(X509* leaf) {
  // i2d_X509 of a certificate as read gives back the bytes it was read from;
  // their first element is the TBSCertificate.
  unsigned char* original = nullptr;
  const int original_length = i2d_X509(leaf, &original);
  if (original_length > 0) {
    const std::string_view der(reinterpret_cast<char*>(original), static_cast<std::size_t>(original_length));
    std::string cut;
    if (const auto certificate = element_at(der, 0); certificate && certificate->tag == 0x30) {
      if (const auto tbs = element_at(der, certificate->content); tbs && tbs->tag == 0x30) {
        cut = tbs_without_sct(der.substr(certificate->content, tbs->end() - certificate->content));
      }
    }
    OPENSSL_free(original);
    if (!cut.empty()) return cut;
  }
  ERR_clear_error();
  Cert copy(X509_dup(leaf));
  if (!copy) return internal_error("copying the certificate failed");
  const int index = X509_get_ext_by_NID(copy.get(), NID_ct_precert_scts, -1);
  if (index < 0) return rejected("certificate: no embedded SCT");
  X509_EXTENSION_free(X509_delete_ext(copy.get(), index));
  unsigned char* out = nullptr;
  const int length = i2d_re_X509_tbs(copy.get(), &out);
  if (length <= 0) return internal_error("re-encoding the certificate failed: " + openssl_error());
  std::string tbs(reinterpret_cast<char*>(out), static_cast<std::size_t>(length));
  OPENSSL_free(out);
  return tbs;
}

}  // namespace

bool is_self_signed(X509* cert) {
  return X509_check_issued(cert, cert) == X509_V_OK;
}

CertificateFacts facts_of(X509* leaf) {
  CertificateFacts facts;
  facts.not_before = time_of(X509_get0_notBefore(leaf));
  facts.not_after = time_of(X509_get0_notAfter(leaf));
  const uint32_t xku = X509_get_extended_key_usage(leaf);
  facts.code_signing = (X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) != 0 && (xku & XKU_CODE_SIGN) != 0;
  if (auto* names =
          static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type == GEN_URI || name->type == GEN_EMAIL || name->type == GEN_DNS) {
        facts.subject_alternative_names.push_back(asn1_string(name->d.ia5));
      } else if (name->type == GEN_OTHERNAME && name->d.otherName->value->type == V_ASN1_UTF8STRING) {
        facts.subject_alternative_names.push_back(asn1_string(name->d.otherName->value->value.utf8string));
      }
    }
    GENERAL_NAMES_free(names);
  }
  static constexpr std::string_view fulcio_prefix = "1.3.6.1.4.1.57264.1.";
  for (int i = 0; i < X509_get_ext_count(leaf); ++i) {
    X509_EXTENSION* ext = X509_get_ext(leaf, i);
    char oid[80];
    if (OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(ext), 1) <= 0) continue;
    const std::string_view text(oid);
    if (text.substr(0, fulcio_prefix.size()) != fulcio_prefix) continue;
    const int arc = std::atoi(oid + fulcio_prefix.size());
    facts.claims[std::string(text)] = claim_value(ext, arc);
  }
  if (auto it = facts.claims.find("1.3.6.1.4.1.57264.1.8"); it != facts.claims.end() && !it->second.empty()) {
    facts.issuer = it->second;
  } else if (auto legacy = facts.claims.find("1.3.6.1.4.1.57264.1.1"); legacy != facts.claims.end()) {
    facts.issuer = legacy->second;
  }
  return facts;
}

Result<Cert> verify_chain(X509* leaf, const TrustedRoot& root, TimePoint at) {
  std::string last_problem = "no certificate authority of the trusted root is valid at that time";
  for (const auto& ca : root.certificate_authorities) {
    if (!ca.valid_for.contains(at)) continue;
    std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
    std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
    auto certs = chain_of(ca);
    if (!certs) return certs.error();
    for (std::size_t i = 0; i < certs->size(); ++i) {
      // The last certificate is the authority's root; the others are
      // intermediates that may be used to reach it.
      if (i + 1 == certs->size()) {
        X509_STORE_add_cert(store.get(), (*certs)[i].get());
      } else {
        sk_X509_push(untrusted.get(), (*certs)[i].release());
      }
    }
    std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get());
    X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), Clock::to_time_t(at));
    if (X509_verify_cert(ctx.get()) == 1) {
      STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
      if (sk_X509_num(chain) < 2) return rejected("certificate chain: the leaf is its own issuer");
      X509* issuer = sk_X509_value(chain, 1);
      X509_up_ref(issuer);
      return Cert(issuer);
    }
    last_problem = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    ERR_clear_error();
  }
  return rejected("certificate chain: " + last_problem + " (at " + format_utc(at) + ")");
}

Result<void> verify_embedded_sct(X509* leaf, X509* issuer, const TrustedRoot& root) {
  std::unique_ptr<STACK_OF(SCT), SctListFree> scts(
      static_cast<STACK_OF(SCT)*>(X509_get_ext_d2i(leaf, NID_ct_precert_scts, nullptr, nullptr)));
  ERR_clear_error();
  if (!scts || sk_SCT_num(scts.get()) == 0) return rejected("certificate: no embedded SCT");
  auto tbs = precert_tbs(leaf);
  if (!tbs) return tbs.error();
  unsigned char* spki = nullptr;
  const int spki_length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(issuer), &spki);
  if (spki_length <= 0) return internal_error("encoding the issuer's key failed");
  const std::string issuer_key_hash =
      sha256(std::string_view(reinterpret_cast<char*>(spki), static_cast<std::size_t>(spki_length)));
  OPENSSL_free(spki);
  std::string problem = "no embedded SCT is from a CT log of the trusted root";
  for (int i = 0; i < sk_SCT_num(scts.get()); ++i) {
    SCT* sct = sk_SCT_value(scts.get(), i);
    unsigned char* id = nullptr;
    const std::size_t id_length = SCT_get0_log_id(sct, &id);
    const LogKey* log = root.ctlog(std::string_view(reinterpret_cast<char*>(id), id_length));
    if (log == nullptr || SCT_get_version(sct) != SCT_VERSION_V1) continue;
    const std::uint64_t timestamp_ms = SCT_get_timestamp(sct);
    const TimePoint when{std::chrono::milliseconds(timestamp_ms)};
    if (!log->valid_for.contains(when)) {
      problem = "the SCT's time is outside its CT log's validity in the trusted root";
      continue;
    }
    unsigned char* extensions = nullptr;
    const std::size_t extensions_length = SCT_get0_extensions(sct, &extensions);
    unsigned char* signature = nullptr;
    const std::size_t signature_length = SCT_get0_signature(sct, &signature);
    // RFC 6962 section 3.2, digitally-signed struct for a precertificate entry.
    std::string signed_data;
    put_uint(signed_data, 0, 1);  // v1
    put_uint(signed_data, 0, 1);  // certificate_timestamp
    put_uint(signed_data, timestamp_ms, 8);
    put_uint(signed_data, 1, 2);  // precert_entry
    signed_data += issuer_key_hash;
    put_uint(signed_data, tbs->size(), 3);
    signed_data += *tbs;
    put_uint(signed_data, extensions_length, 2);
    signed_data.append(reinterpret_cast<char*>(extensions), extensions_length);
    auto key = key_of(*log);
    if (!key) return key.error();
    if (verify_message(key->get(), signed_data,
                       std::string_view(reinterpret_cast<char*>(signature), signature_length)))
      return {};
    problem = "the embedded SCT's signature does not verify under its CT log's key";
  }
  return rejected("certificate: " + problem);
}

}  // namespace ir::sigstore::detail
