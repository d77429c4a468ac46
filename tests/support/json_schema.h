#pragma once
// A JSON Schema (draft-07) validator for the keywords virtform's schemas use, so tests can check
// real documents against schemas/*.schema.json without a Node toolchain. A keyword outside that
// subset is reported as a problem rather than ignored, so a schema cannot silently outgrow it.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace virtform::testing {

// The ways `instance` breaks `schema`, each as "<JSON pointer>: <what>"; empty when it is valid.
// References ("$ref") are resolved within `schema` ("#/definitions/...").
//
// Supported: $ref, type, enum, const, properties, required, additionalProperties, propertyNames,
// dependencies, items, pattern, minLength, minimum, maximum, allOf, anyOf, oneOf, not,
// if/then/else, and boolean schemas. Annotations ($schema, $id, title, description, default,
// examples, definitions) are ignored.
std::vector<std::string> schema_violations(const nlohmann::json& schema,
                                           const nlohmann::json& instance);

}  // namespace virtform::testing
