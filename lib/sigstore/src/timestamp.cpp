#include "timestamp.hpp"

#include "pkix.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ts.h>

namespace ir::sigstore::detail {
namespace {

Error rejected(std::string message) {
  return Error(Code::rejected, "timestamp: " + std::move(message));
}

struct RespFree {
  void operator()(TS_RESP* r) const { TS_RESP_free(r); }
};
struct VerifyCtxFree {
  void operator()(TS_VERIFY_CTX* c) const { TS_VERIFY_CTX_free(c); }
};

// The token's message imprint must be the hash of the signature it claims
// to timestamp.
bool covers(TS_RESP* response, std::string_view signed_bytes) {
  std::unique_ptr<TS_VERIFY_CTX, VerifyCtxFree> ctx(TS_VERIFY_CTX_new());
  TS_VERIFY_CTX_set_data(ctx.get(),
                         BIO_new_mem_buf(signed_bytes.data(), static_cast<int>(signed_bytes.size())));
  TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_VERSION | TS_VFY_DATA);
  const bool ok = TS_RESP_verify_response(ctx.get(), response) == 1;
  ERR_clear_error();
  return ok;
}

// One authority: its root as the only trust anchor, its other certificates
// as candidates for the signer and the path, the clock set to the stamp's
// own time so that a since-expired authority still verifies old stamps.
// Returns empty when it verifies, else OpenSSL's reason.
std::string problem_with(TS_RESP* response, const Authority& tsa, TimePoint at) {
  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509)* certs = sk_X509_new_null();
  std::unique_ptr<TS_VERIFY_CTX, VerifyCtxFree> ctx(TS_VERIFY_CTX_new());
  // The context owns the store and the certificates from here on.
  TS_VERIFY_CTX_set_store(ctx.get(), store);
  TS_VERIFY_CTX_set_certs(ctx.get(), certs);
  auto chain = chain_of(tsa);
  if (!chain) return "unreadable authority certificate";
  for (std::size_t i = 0; i < chain->size(); ++i) {
    if (i + 1 == chain->size()) {
      X509_STORE_add_cert(store, (*chain)[i].get());
    } else {
      sk_X509_push(certs, (*chain)[i].release());
    }
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), Clock::to_time_t(at));
  TS_VERIFY_CTX_set_flags(ctx.get(), TS_VFY_SIGNATURE);
  if (TS_RESP_verify_response(ctx.get(), response) == 1) return {};
  return openssl_error();
}

}  // namespace

Result<TimePoint> verify_timestamp(std::string_view response_der, std::string_view signed_bytes,
                                   const TrustedRoot& root) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(response_der.data());
  std::unique_ptr<TS_RESP, RespFree> response(
      d2i_TS_RESP(nullptr, &p, static_cast<long>(response_der.size())));
  if (!response) {
    ERR_clear_error();
    return rejected("not a DER TimeStampResp");
  }
  TS_TST_INFO* info = TS_RESP_get_tst_info(response.get());
  if (info == nullptr) return rejected("the response holds no timestamp token");
  const TimePoint at = time_of(TS_TST_INFO_get_time(info));
  if (!covers(response.get(), signed_bytes))
    return rejected("the timestamp (of " + format_utc(at) + ") is not over this signature");
  std::string problem;
  for (const auto& tsa : root.timestamp_authorities) {
    if (!tsa.valid_for.contains(at)) continue;
    problem = problem_with(response.get(), tsa, at);
    if (problem.empty()) return at;
  }
  if (problem.empty())
    return rejected("no timestamp authority of the trusted root is valid at " + format_utc(at));
  return rejected("not signed by a timestamp authority of the trusted root (at " + format_utc(at) +
                  "): " + problem);
}

}  // namespace ir::sigstore::detail
