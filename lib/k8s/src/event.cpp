#include "ir/k8s/event.hpp"

#include "ir/core/encoding.hpp"
#include "ir/core/time.hpp"

#include <cctype>

namespace ir::k8s {

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string bounded_name(std::string name, std::size_t limit) {
  if (name.size() <= limit) return name;
  const std::string hash = sha256_hex(name).substr(0, 10);
  name.resize(limit - hash.size() - 1);
  while (!name.empty() && (name.back() == '-' || name.back() == '.')) name.pop_back();
  return name + "-" + hash;
}

json::object build_event(const EventSpec& spec) {
  const std::string stamp = format_utc(now());
  const std::string object_name = string_at(spec.involved, {"name"});
  return {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", json::object{{"name", bounded_name(object_name + "." + lower_ascii(spec.incident_id) +
                                                          "." + lower_ascii(spec.reason) + spec.name_suffix,
                                                      253)},
                                {"namespace", spec.ns},
                                {"labels", json::object{{"irsteps.io/incident", spec.incident_id}}}}},
      {"involvedObject", spec.involved},
      {"reason", spec.reason},
      {"message", spec.message},
      {"type", spec.type},
      {"source", json::object{{"component", "irsteps-" + spec.step}}},
      {"reportingComponent", "irsteps.io/" + spec.step},
      {"reportingInstance", "irsteps"},
      {"firstTimestamp", stamp},
      {"lastTimestamp", stamp},
      {"count", 1}};
}

}  // namespace ir::k8s
