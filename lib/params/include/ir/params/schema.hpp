// A JSON Schema validator for the keywords the project's schemas use (and
// the Argo schema's): type, enum, const, properties, required,
// additionalProperties, patternProperties, items, min/maxItems, uniqueItems,
// min/maxLength, pattern, minimum/maximum (and exclusive), min/maxProperties,
// allOf/anyOf/oneOf/not, if/then/else, dependentRequired, format date-time,
// and local $ref ("#/..."). Unknown keywords are ignored, as the spec says.
#pragma once

#include "ir/core/error.hpp"
#include "ir/core/json.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

namespace ir {

struct SchemaProblem {
  std::string path;  // JSON pointer of the offending value in the instance, "" for the root
  std::string message;
};

class Schema {
 public:
  [[nodiscard]] static Result<Schema> from_json(json::value document);
  [[nodiscard]] static Result<Schema> from_text(std::string_view text, std::string_view what);

  [[nodiscard]] std::vector<SchemaProblem> validate(const json::value& instance) const;
  // Validates against a subschema addressed by a local pointer, e.g.
  // "#/definitions/io.argoproj.workflow.v1alpha1.WorkflowTemplate".
  [[nodiscard]] Result<std::vector<SchemaProblem>> validate_at(const json::value& instance,
                                                               std::string_view pointer) const;

  [[nodiscard]] const json::value& document() const { return *document_; }

 private:
  struct Cache {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<const std::regex>> patterns;
    // Other compiled-in schemas a "$ref" names ("common.schema.json#/...").
    std::map<std::string, std::shared_ptr<const json::value>> documents;
  };
  explicit Schema(json::value document);
  std::shared_ptr<const json::value> document_;
  std::shared_ptr<Cache> cache_;
  friend class SchemaWalker;
};

}  // namespace ir
