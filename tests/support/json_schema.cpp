#include "support/json_schema.h"

#include <algorithm>
#include <regex>
#include <set>
#include <string_view>

namespace virtform::testing {
namespace {

using nlohmann::json;
using Problems = std::vector<std::string>;

const std::set<std::string, std::less<>> kAnnotations = {
    "$schema", "$id", "title", "description", "default", "examples", "definitions"};

// The JSON pointer of a place in the instance, "/" for the document itself.
std::string place(const std::string& where) {
  return where.empty() ? "/" : where;
}

bool has_type(const json& instance, std::string_view type) {
  if (type == "object") return instance.is_object();
  if (type == "array") return instance.is_array();
  if (type == "string") return instance.is_string();
  if (type == "boolean") return instance.is_boolean();
  if (type == "null") return instance.is_null();
  if (type == "integer") return instance.is_number_integer();
  if (type == "number") return instance.is_number();
  return false;
}

class Validator {
 public:
  explicit Validator(const json& root) : root_(root) {}

  // Appends to `problems` every way `instance`, found at `where`, breaks `schema`.
  void check(const json& schema, const json& instance, const std::string& where,
             Problems& problems) const {
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) problems.push_back(place(where) + ": not allowed here");
      return;
    }
    for (const auto& [keyword, value] : schema.items()) {
      check_keyword(keyword, value, schema, instance, where, problems);
    }
  }

  bool valid(const json& schema, const json& instance, const std::string& where) const {
    Problems problems;
    check(schema, instance, where, problems);
    return problems.empty();
  }

 private:
  void check_keyword(const std::string& keyword, const json& value, const json& schema,
                     const json& instance, const std::string& where, Problems& problems) const {
    if (kAnnotations.contains(keyword)) return;
    if (keyword == "$ref")
      return check(resolve(value.get<std::string>()), instance, where, problems);
    if (keyword == "type") return check_type(value, instance, where, problems);
    if (keyword == "enum") return check_enum(value, instance, where, problems);
    if (keyword == "const") {
      if (instance != value) problems.push_back(place(where) + ": must be " + value.dump());
      return;
    }
    if (keyword == "properties" || keyword == "required" || keyword == "additionalProperties" ||
        keyword == "propertyNames" || keyword == "dependencies") {
      if (instance.is_object()) check_object(keyword, value, schema, instance, where, problems);
      return;
    }
    if (keyword == "items") return check_items(value, instance, where, problems);
    if (keyword == "minItems" || keyword == "uniqueItems") {
      if (instance.is_array()) check_array(keyword, value, instance, where, problems);
      return;
    }
    if (keyword == "pattern" || keyword == "minLength" || keyword == "maxLength") {
      if (instance.is_string()) check_string(keyword, value, instance, where, problems);
      return;
    }
    if (keyword == "minimum" || keyword == "maximum") {
      if (instance.is_number()) check_number(keyword, value, instance, where, problems);
      return;
    }
    if (keyword == "allOf" || keyword == "anyOf" || keyword == "oneOf" || keyword == "not") {
      return check_combination(keyword, value, instance, where, problems);
    }
    if (keyword == "if") return check_condition(value, schema, instance, where, problems);
    if (keyword == "then" || keyword == "else") return;  // applied through "if"
    problems.push_back(place(where) + ": the schema uses \"" + keyword +
                       "\", which this validator does not support");
  }

  const json& resolve(const std::string& reference) const {
    if (!reference.starts_with("#")) throw std::runtime_error("not a local $ref: " + reference);
    return root_.at(json::json_pointer(reference.substr(1)));
  }

  void check_array(const std::string& keyword, const json& value, const json& instance,
                   const std::string& where, Problems& problems) const {
    if (keyword == "minItems" && instance.size() < value.get<std::size_t>())
      problems.push_back(place(where) + ": must hold at least " + value.dump() + " items");
    if (keyword == "uniqueItems" && value == true)
      for (auto item = instance.begin(); item != instance.end(); ++item)
        if (std::find(std::next(item), instance.end(), *item) != instance.end())
          problems.push_back(place(where) + ": holds " + item->dump() + " twice");
  }

  void check_type(const json& type, const json& instance, const std::string& where,
                  Problems& problems) const {
    const json types = type.is_array() ? type : json::array({type});
    for (const json& one : types) {
      if (has_type(instance, one.get<std::string>())) return;
    }
    problems.push_back(place(where) + ": must be of type " + type.dump() + ", is " +
                       instance.dump());
  }

  void check_enum(const json& choices, const json& instance, const std::string& where,
                  Problems& problems) const {
    if (std::find(choices.begin(), choices.end(), instance) == choices.end()) {
      problems.push_back(place(where) + ": " + instance.dump() + " is not one of " +
                         choices.dump());
    }
  }

  void check_object(const std::string& keyword, const json& value, const json& schema,
                    const json& instance, const std::string& where, Problems& problems) const {
    if (keyword == "properties") {
      for (const auto& [name, property] : value.items()) {
        if (instance.contains(name)) check(property, instance[name], where + "/" + name, problems);
      }
    } else if (keyword == "required") {
      for (const json& name : value) {
        if (!instance.contains(name.get<std::string>())) {
          problems.push_back(place(where) + ": lacks required property " + name.dump());
        }
      }
    } else if (keyword == "additionalProperties") {
      const json& declared = schema.contains("properties") ? schema["properties"] : json::object();
      for (const auto& [name, member] : instance.items()) {
        if (!declared.contains(name)) check(value, member, where + "/" + name, problems);
      }
    } else if (keyword == "propertyNames") {
      for (const auto& [name, member] : instance.items()) {
        check(value, json(name), where + "/" + name + " (the name)", problems);
      }
    } else {
      check_dependencies(value, instance, where, problems);
    }
  }

  // A present key brings more required keys (an array) or a schema for the whole object.
  void check_dependencies(const json& dependencies, const json& instance, const std::string& where,
                          Problems& problems) const {
    for (const auto& [name, dependency] : dependencies.items()) {
      if (!instance.contains(name)) continue;
      if (!dependency.is_array()) {
        check(dependency, instance, where + " (as it has " + name + ")", problems);
        continue;
      }
      for (const json& needed : dependency) {
        if (!instance.contains(needed.get<std::string>())) {
          problems.push_back(place(where) + ": " + name + " needs " + needed.dump());
        }
      }
    }
  }

  void check_items(const json& items, const json& instance, const std::string& where,
                   Problems& problems) const {
    if (!instance.is_array()) return;
    for (std::size_t i = 0; i < instance.size(); ++i) {
      check(items, instance[i], where + "/" + std::to_string(i), problems);
    }
  }

  void check_string(const std::string& keyword, const json& value, const json& instance,
                    const std::string& where, Problems& problems) const {
    const std::string text = instance.get<std::string>();
    if (keyword == "pattern") {
      // JSON Schema patterns are ECMA 262 and unanchored, like std::regex_search.
      if (!std::regex_search(text, std::regex(value.get<std::string>()))) {
        problems.push_back(place(where) + ": \"" + text + "\" does not match " + value.dump());
      }
    } else if (keyword == "minLength" && text.size() < value.get<std::size_t>()) {
      problems.push_back(place(where) + ": shorter than " + value.dump() + " characters");
    } else if (keyword == "maxLength" && text.size() > value.get<std::size_t>()) {
      problems.push_back(place(where) + ": longer than " + value.dump() + " characters");
    }
  }

  void check_number(const std::string& keyword, const json& value, const json& instance,
                    const std::string& where, Problems& problems) const {
    const double number = instance.get<double>(), bound = value.get<double>();
    if (keyword == "minimum" ? number < bound : number > bound) {
      problems.push_back(place(where) + ": " + instance.dump() + " is out of range (" + keyword +
                         " " + value.dump() + ")");
    }
  }

  void check_combination(const std::string& keyword, const json& value, const json& instance,
                         const std::string& where, Problems& problems) const {
    if (keyword == "not") {
      if (valid(value, instance, where))
        problems.push_back(place(where) + ": matches " + value.dump());
      return;
    }
    if (keyword == "allOf") {
      for (const json& part : value) check(part, instance, where, problems);
      return;
    }
    const auto matching = std::count_if(
        value.begin(), value.end(), [&](const json& part) { return valid(part, instance, where); });
    if (keyword == "anyOf" ? matching == 0 : matching != 1) {
      problems.push_back(place(where) + ": matches " + std::to_string(matching) + " of " + keyword +
                         " " + value.dump());
    }
  }

  void check_condition(const json& condition, const json& schema, const json& instance,
                       const std::string& where, Problems& problems) const {
    const char* branch = valid(condition, instance, where) ? "then" : "else";
    if (schema.contains(branch)) check(schema[branch], instance, where, problems);
  }

  const json& root_;
};

}  // namespace

std::vector<std::string> schema_violations(const nlohmann::json& schema,
                                           const nlohmann::json& instance) {
  Problems problems;
  Validator(schema).check(schema, instance, "", problems);
  return problems;
}

}  // namespace virtform::testing
