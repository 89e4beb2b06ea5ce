// The GSSAPI functions that libgit2's Negotiate (Kerberos) HTTP
// authentication calls, for the statically linked release build: Debian has
// no archive of MIT Kerberos, and its shared libraries are 1.6 MB of every
// image.
//
// irsteps never reaches them. libgit2 starts Negotiate only with a "default"
// credential (GIT_CREDENTIAL_DEFAULT), and the credential callback in
// repository.cpp never makes one: it answers with a token (Basic) or an SSH
// key, and refuses a server that asks for Negotiate alone with an error that
// says so. Should libgit2 call them anyway, they fail as a library without
// mechanisms would (GSS_S_UNAVAILABLE), with a message saying why.
//
// The types are MIT's ABI (gssapi/gssapi.h, which Debian ships only with
// libkrb5-dev): 32-bit status codes, opaque handles, {length, pointer} pairs.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

// The types have external linkage (not an unnamed namespace): the functions
// and the variable below are the library's, seen by libgit2.
namespace ir::git::gssapi {

using OM_uint32 = std::uint32_t;

struct gss_OID_desc {
  OM_uint32 length;
  void* elements;
};
struct gss_OID_set_desc {
  std::size_t count;
  gss_OID_desc* elements;
};
struct gss_buffer_desc {
  std::size_t length;
  void* value;
};
using gss_OID = gss_OID_desc*;
using gss_OID_set = gss_OID_set_desc*;
using gss_buffer_t = gss_buffer_desc*;
using gss_name_t = struct gss_name_struct*;
using gss_ctx_id_t = struct gss_ctx_id_struct*;
using gss_cred_id_t = struct gss_cred_id_struct*;
using gss_channel_bindings_t = struct gss_channel_bindings_struct*;

}  // namespace ir::git::gssapi

using namespace ir::git::gssapi;

namespace {

constexpr OM_uint32 GSS_S_COMPLETE = 0;
constexpr OM_uint32 GSS_S_UNAVAILABLE = 16u << 16;  // a routine error
constexpr OM_uint32 GSS_S_FAILURE = 13u << 16;

constexpr char unavailable_message[] =
    "Kerberos (GSSAPI) is not in this build of irsteps; give the git server a token instead";

// RFC 2743 4.1: {iso(1) member-body(2) United States(840) mit(113554) infosys(1) gssapi(2) generic(1)
// service_name(4)}
unsigned char hostbased_service_bytes[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x01, 0x04};
gss_OID_desc hostbased_service = {sizeof hostbased_service_bytes, hostbased_service_bytes};

}  // namespace

extern "C" {

// NOLINTBEGIN(readability-identifier-naming): the names are the GSSAPI's.
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables)
gss_OID GSS_C_NT_HOSTBASED_SERVICE = &hostbased_service;

OM_uint32 gss_indicate_mechs(OM_uint32* minor_status, gss_OID_set* mech_set) {
  if (minor_status != nullptr) *minor_status = 0;
  if (mech_set != nullptr) *mech_set = nullptr;
  return GSS_S_UNAVAILABLE;
}

OM_uint32 gss_import_name(OM_uint32* minor_status, gss_buffer_t /*input_name_buffer*/,
                          gss_OID /*input_name_type*/, gss_name_t* output_name) {
  if (minor_status != nullptr) *minor_status = 0;
  if (output_name != nullptr) *output_name = nullptr;
  return GSS_S_UNAVAILABLE;
}

OM_uint32 gss_init_sec_context(OM_uint32* minor_status, gss_cred_id_t /*claimant_cred_handle*/,
                               gss_ctx_id_t* /*context_handle*/, gss_name_t /*target_name*/,
                               gss_OID /*mech_type*/, OM_uint32 /*req_flags*/, OM_uint32 /*time_req*/,
                               gss_channel_bindings_t /*input_chan_bindings*/, gss_buffer_t /*input_token*/,
                               gss_OID* actual_mech_type, gss_buffer_t output_token, OM_uint32* ret_flags,
                               OM_uint32* time_rec) {
  if (minor_status != nullptr) *minor_status = 0;
  if (actual_mech_type != nullptr) *actual_mech_type = nullptr;
  if (output_token != nullptr) *output_token = {0, nullptr};
  if (ret_flags != nullptr) *ret_flags = 0;
  if (time_rec != nullptr) *time_rec = 0;
  return GSS_S_UNAVAILABLE;
}

OM_uint32 gss_delete_sec_context(OM_uint32* minor_status, gss_ctx_id_t* context_handle,
                                 gss_buffer_t output_token) {
  if (minor_status != nullptr) *minor_status = 0;
  if (context_handle != nullptr) *context_handle = nullptr;
  if (output_token != nullptr) *output_token = {0, nullptr};
  return GSS_S_COMPLETE;
}

// One message, then message_context 0: the caller's loop ends.
OM_uint32 gss_display_status(OM_uint32* minor_status, OM_uint32 /*status_value*/, int /*status_type*/,
                             gss_OID /*mech_type*/, OM_uint32* message_context, gss_buffer_t status_string) {
  if (minor_status != nullptr) *minor_status = 0;
  if (message_context != nullptr) *message_context = 0;
  if (status_string == nullptr) return GSS_S_FAILURE;
  // Released with free() by gss_release_buffer below, as MIT's are.
  void* text = std::malloc(sizeof unavailable_message);
  if (text == nullptr) return GSS_S_FAILURE;
  std::memcpy(text, unavailable_message, sizeof unavailable_message);
  *status_string = {sizeof unavailable_message - 1, text};
  return GSS_S_COMPLETE;
}

OM_uint32 gss_release_buffer(OM_uint32* minor_status, gss_buffer_t buffer) {
  if (minor_status != nullptr) *minor_status = 0;
  if (buffer != nullptr) {
    std::free(buffer->value);
    *buffer = {0, nullptr};
  }
  return GSS_S_COMPLETE;
}

OM_uint32 gss_release_name(OM_uint32* minor_status, gss_name_t* name) {
  if (minor_status != nullptr) *minor_status = 0;
  if (name != nullptr) *name = nullptr;
  return GSS_S_COMPLETE;
}

OM_uint32 gss_release_oid_set(OM_uint32* minor_status, gss_OID_set* set) {
  if (minor_status != nullptr) *minor_status = 0;
  if (set != nullptr) *set = nullptr;
  return GSS_S_COMPLETE;
}
// NOLINTEND(readability-identifier-naming)

}  // extern "C"
