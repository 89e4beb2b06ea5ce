// Every change a step makes to the cluster goes through a Writer: it records
// the action in the report (with the object it touched) and, under
// --dry-run, records the exact request instead of sending it.
#pragma once

#include "ir/k8s/client.hpp"
#include "ir/output/report.hpp"

#include <functional>
#include <optional>
#include <string>

namespace ir::k8s {

class Writer {
 public:
  Writer(Client& client, Report& report, bool dry_run)
      : client_(client), report_(report), dry_run_(dry_run) {}

  [[nodiscard]] bool dry_run() const { return dry_run_; }

  // Makes the object exist as given: created when absent; when present and
  // different, server-side applied; when present and equal, left alone, so
  // that a re-run changes nothing (not even resourceVersion, which a no-op
  // apply still bumps on older API servers). The first run costs one request.
  // `keep_from_live`, when given, sees the live object before the comparison
  // and may add to the desired one what must stay (names an earlier run
  // recorded, say); the first run still costs one request.
  using KeepFromLive = std::function<void(json::object& desired, const json::object& live)>;
  [[nodiscard]] Result<std::optional<json::object>> ensure(const Resource& resource, std::string_view ns,
                                                           const json::object& object, std::string detail,
                                                           const KeepFromLive& keep_from_live = {});

  // The results are the objects as the server returned them; nullopt under --dry-run.
  [[nodiscard]] Result<std::optional<json::object>> apply(const Resource& resource, std::string_view ns,
                                                          const json::object& object, std::string detail);
  [[nodiscard]] Result<std::optional<json::object>> merge_patch(const Resource& resource, std::string_view ns,
                                                                std::string_view name,
                                                                const json::value& patch, std::string detail);
  // Any patch type; under --dry-run the request records its content type.
  [[nodiscard]] Result<std::optional<json::object>> patch(const Resource& resource, std::string_view ns,
                                                          std::string_view name, PatchType type,
                                                          const json::value& body, std::string detail);
  // With exists_ok, AlreadyExists counts as done (deterministic names make re-runs safe).
  [[nodiscard]] Result<std::optional<json::object>> create(const Resource& resource, std::string_view ns,
                                                           const json::object& object, std::string detail,
                                                           bool exists_ok);
  // With missing_ok, NotFound counts as done. Returns whether the object was there.
  [[nodiscard]] Result<bool> remove(const Resource& resource, std::string_view ns, std::string_view name,
                                    const DeleteOptions& options, std::string detail, bool missing_ok);
  // Evicts a pod (Client::evict). Returns false when the pod was gone already.
  [[nodiscard]] Result<bool> evict(std::string_view ns, std::string_view name, std::string_view uid,
                                   std::string detail);

 private:
  void record(std::string verb, const Resource& resource, std::string_view ns, std::string_view name,
              std::string_view uid, std::string detail, std::optional<json::object> request);
  static void stop_if_asked();
  Client& client_;
  Report& report_;
  bool dry_run_;
};

// Whether every field of `desired` has the same value in `live`; fields the
// server adds (defaults, status, metadata it keeps) do not count, and an empty
// list or object in `desired` matches an absent one.
[[nodiscard]] bool contained_in(const json::value& desired, const json::value* live);

// apiVersion, kind, namespace, name (and uid) of an object, as report targets show it.
[[nodiscard]] json::object reference_of(const Resource& resource, std::string_view ns, std::string_view name,
                                        std::string_view uid = {});

}  // namespace ir::k8s
