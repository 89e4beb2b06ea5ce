#include "timeline.hpp"

#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>

namespace playbook {
namespace {

std::string clock_time(ir::TimePoint t) {
  const std::string full = ir::format_utc(t);  // 2026-11-26T09:00:01Z
  return full.size() >= 19 ? full.substr(11, 8) : full;
}

std::string seconds_text(ir::TimePoint start, ir::TimePoint end) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(end - start).count();
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1fs", static_cast<double>(ms) / 1000.0);
  return buffer;
}

// Outputs can be whole JSON documents: the timeline shows their start.
std::string short_value(const std::string& value) {
  std::string one_line;
  for (char c : value) one_line += (c == '\n' || c == '\r') ? ' ' : c;
  if (one_line.size() > 60) one_line = one_line.substr(0, 57) + "...";
  return one_line;
}

}  // namespace

json::object node_json(const NodeRecord& node) {
  json::object o;
  o["name"] = node.path;
  o["type"] = node.type;
  o["template"] = node.template_name;
  if (!node.template_ref.empty()) o["templateRef"] = node.template_ref;
  if (!node.step.empty()) o["step"] = node.step;
  o["phase"] = node.phase;
  if (!node.message.empty()) o["message"] = node.message;
  if (node.exit_code) o["exitCode"] = *node.exit_code;
  o["startedAt"] = ir::format_utc(node.start, true);
  o["finishedAt"] = ir::format_utc(node.end, true);
  if (node.attempts > 0) o["attempts"] = node.attempts;
  json::object inputs, outputs;
  for (const auto& [k, v] : node.inputs) inputs[k] = v;
  for (const auto& [k, v] : node.outputs) outputs[k] = v;
  o["inputs"] = std::move(inputs);
  if (!node.input_artifacts.empty()) {
    json::object artifacts;
    for (const auto& [k, v] : node.input_artifacts) artifacts[k] = v;
    o["inputArtifacts"] = std::move(artifacts);
  }
  o["outputs"] = std::move(outputs);
  if (!node.artifacts.empty()) o["artifacts"] = node.artifacts;
  if (node.result) o["result"] = *node.result;
  return o;
}

void Timeline::write_line(const std::string& line) {
  const std::lock_guard lock(mutex_);
  out_ << line << '\n';
  out_.flush();
}

void Timeline::node_started(const NodeRecord& node, int attempt) {
  if (format_ == Format::json) {
    json::object o{{"time", ir::format_utc(ir::now(), true)},
                   {"event", "node.started"},
                   {"node", node.path},
                   {"type", node.type},
                   {"template", node.template_name}};
    if (!node.step.empty()) o["step"] = node.step;
    if (attempt > 0) o["attempt"] = attempt + 1;
    write_line(json::serialize(o));
    return;
  }
  std::string line = clock_time(ir::now()) + "  " + node.path + "  Running  " + node.type;
  if (!node.step.empty()) line += " " + node.step;
  if (attempt > 0) line += " (retry " + std::to_string(attempt) + ")";
  write_line(line);
}

void Timeline::node_finished(const NodeRecord& node) {
  if (format_ == Format::json) {
    json::object o{{"time", ir::format_utc(node.end, true)},
                   {"event", "node.finished"},
                   {"node", node.path},
                   {"type", node.type},
                   {"phase", node.phase}};
    if (node.exit_code) o["exitCode"] = *node.exit_code;
    o["durationSeconds"] =
        static_cast<double>(
            std::chrono::duration_cast<std::chrono::milliseconds>(node.end - node.start).count()) /
        1000.0;
    json::object outputs;
    for (const auto& [k, v] : node.outputs) outputs[k] = v;
    if (!outputs.empty()) o["outputs"] = std::move(outputs);
    if (!node.message.empty()) o["message"] = node.message;
    write_line(json::serialize(o));
    return;
  }
  std::string line = clock_time(node.end) + "  " + node.path + "  " + node.phase;
  if (node.exit_code) line += "  exit " + std::to_string(*node.exit_code);
  if (node.type != "Skipped" && node.type != "Omitted") line += "  " + seconds_text(node.start, node.end);
  for (const auto& [k, v] : node.outputs) {
    if (!v.empty()) line += "  " + k + "=" + short_value(v);  // empty outputs mean "not given"
  }
  if (!node.message.empty()) line += "  (" + node.message + ")";
  write_line(line);
}

void Timeline::event(const std::string& event, const std::string& node, const std::string& text) {
  if (format_ == Format::json) {
    json::object o{{"time", ir::format_utc(ir::now(), true)}, {"event", event}};
    if (!node.empty()) o["node"] = node;
    o["message"] = text;
    write_line(json::serialize(o));
    return;
  }
  write_line(clock_time(ir::now()) + "  " + (node.empty() ? std::string() : node + "  ") + text);
}

void Timeline::step_log(const std::string& node, std::string_view line) {
  if (format_ == Format::json) {
    write_line(json::serialize(json::object{{"event", "step.log"}, {"node", node}, {"line", line}}));
    return;
  }
  write_line("    [" + node + "] " + std::string(line));
}

}  // namespace playbook
