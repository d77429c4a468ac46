#pragma once
// Writing a file the user asked for (a saved plan, imported TOML) so that it is either the whole
// new text or left as it was: a full disk or a kill mid-write never leaves a truncated file.

#include <string>

namespace virtform {

// Writes `text` to a new file beside `path` and renames it over `path`. Throws SystemError naming
// `path` and the reason; on failure `path` is untouched and the new file is removed.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace virtform
