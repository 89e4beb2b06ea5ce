// Loading documents: the file given, the templates folder, and resolving
// template and templateRef names across them.
#include "model.hpp"

#include <algorithm>
#include <filesystem>

namespace playbook {
namespace {

namespace fs = std::filesystem;
using ir::invalid;

}  // namespace

Result<void> Library::load_file(const std::string& path, bool primary) {
  std::error_code ec;
  const std::string canonical = fs::weakly_canonical(path, ec).string();
  if (std::find(loaded_files_.begin(), loaded_files_.end(), canonical) != loaded_files_.end()) {
    if (primary) {
      for (auto& e : entries_) e->primary = e->primary || e->file == path;
    }
    return {};
  }
  loaded_files_.push_back(canonical);
  auto text = ir::read_file(path);
  if (!text) return text.error();
  auto documents = ir::parse_yaml_documents(*text, path);
  if (!documents) return documents.error();
  for (auto& document : *documents) {
    const std::string kind = ir::string_at(document, {"kind"});
    if (kind != "WorkflowTemplate" && kind != "Workflow") continue;
    auto entry = std::make_unique<Entry>();
    entry->kind = kind;
    entry->name = ir::string_at(document, {"metadata", "name"});
    if (entry->name.empty()) entry->name = ir::string_at(document, {"metadata", "generateName"});
    while (!entry->name.empty() && entry->name.back() == '-') entry->name.pop_back();
    entry->file = path;
    entry->primary = primary;
    entry->has_entrypoint = ir::find(document, {"spec", "entrypoint"}) != nullptr;
    entry->document = std::move(document);
    entries_.push_back(std::move(entry));
  }
  return {};
}

Result<void> Library::load_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const auto ext = it->path().extension();
    if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(it->path().string());
  }
  if (ec) return invalid("cannot read " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    if (auto r = load_file(file, false); !r) unreadable_.push_back(r.error().describe());
  }
  return {};
}

Result<const Workflow*> Library::parse_entry(Entry& entry) {
  const std::lock_guard lock(parse_mutex_);
  if (!entry.parsed) {
    auto parsed = parse_workflow(entry.document, entry.file);
    if (!parsed) return parsed.error();
    entry.parsed = std::move(*parsed);
  }
  return entry.parsed.get();
}

Result<const Workflow*> Library::get(const std::string& name) {
  Entry* found = nullptr;
  for (auto& e : entries_) {
    if (e->name != name) continue;
    if (found != nullptr && found->primary == e->primary) {
      return invalid("WorkflowTemplate " + name + " is defined twice: in " + found->file + " and " + e->file);
    }
    if (found == nullptr || e->primary) found = e.get();
  }
  if (found == nullptr) {
    std::string also;
    for (const auto& u : unreadable_) also += "; unreadable: " + u;
    return invalid("no WorkflowTemplate named " + name + also);
  }
  return parse_entry(*found);
}

std::vector<std::string> Library::runnable_names() const {
  std::vector<std::string> names;
  for (const auto& e : entries_) {
    if (e->has_entrypoint) names.push_back(e->name + "  (" + e->file + ")");
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<const Workflow*> Library::runnable_in(const std::string& path) {
  Entry* chosen = nullptr;
  for (auto& e : entries_) {
    if (e->file != path || !e->primary) continue;
    if (e->kind == "Workflow") {
      chosen = e.get();
      break;
    }
    if (chosen == nullptr && e->has_entrypoint) chosen = e.get();
  }
  if (chosen == nullptr) return invalid(path + ": no Workflow or WorkflowTemplate with spec.entrypoint");
  return parse_entry(*chosen);
}

Result<const Template*> Library::resolve(const Workflow& caller, const Call& call) {
  if (!call.template_ref) {
    const auto* t = caller.find(call.template_name);
    if (t == nullptr) return invalid(call.where + ".template: no template named " + call.template_name);
    return t;
  }
  auto owner = get(call.template_ref->name);
  if (!owner) return owner.error().with(call.where + ".templateRef");
  const auto* t = (*owner)->find(call.template_ref->template_name);
  if (t == nullptr) {
    return invalid(call.where + ".templateRef: WorkflowTemplate " + call.template_ref->name +
                   " has no template named " + call.template_ref->template_name);
  }
  return t;
}

}  // namespace playbook
