#pragma once
// A DSM guest's report (engine/dsm/report.h) for people and as JSON: shared by plan and
// `virtform host`.

#include <nlohmann/json.hpp>
#include <string>

#include "engine/dsm/report.h"

namespace virtform {

// The guest's model, its map with each controller and drive, and the commands to paste on the
// loader; each line starts with `indent` and ends with a newline.
std::string render_dsm_report_text(const DsmReport& report, const std::string& indent);

// "ds918p": the platform id TinyCore RedPill's build command takes before the DSM version.
std::string rploader_platform_id(const std::string& model);

nlohmann::json dsm_report_json(const DsmReport& report);
// Throws on a missing field or an unknown value.
DsmReport dsm_report_from(const nlohmann::json& in);

}  // namespace virtform
