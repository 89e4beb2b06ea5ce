// The Events steps record on the objects they change, for `kubectl
// describe`: which incident, which step, what was done. Deterministic names,
// so a re-run's create is AlreadyExists, not a second Event.
#pragma once

#include "ir/core/json.hpp"

#include <string>
#include <string_view>

namespace ir::k8s {

struct EventSpec {
  json::object involved;    // involvedObject: reference_of() of the object
  std::string ns;           // the Event's namespace: the object's, "default" for a cluster-scoped one
  std::string step;         // "isolate": source irsteps-isolate, reportingComponent irsteps.io/isolate
  std::string incident_id;  // labels the Event irsteps.io/incident
  std::string reason;       // "Isolated"
  std::string message;
  std::string type = "Warning";
  std::string name_suffix;  // after <object>.<incident>.<reason>, e.g. a resourceVersion
};

[[nodiscard]] json::object build_event(const EventSpec& spec);

// A name of at most `limit` characters: longer ones are cut and end in a
// hash of the whole, so they stay unique and deterministic.
[[nodiscard]] std::string bounded_name(std::string name, std::size_t limit);
[[nodiscard]] std::string lower_ascii(std::string_view text);

}  // namespace ir::k8s
