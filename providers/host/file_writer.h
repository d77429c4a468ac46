#pragma once
// Writing a file the user asked for (a saved plan, imported TOML) so that it is either the whole
// new text or left as it was: a full disk or a kill mid-write never leaves a truncated file.

#include <string>

namespace virtform {

// Writes `text` to a new file beside `path` and renames it over `path`. Throws SystemError naming
// `path` and the reason; on failure `path` is untouched and the new file is removed (a SIGKILL
// in between can leave it behind, as `.NAME.XXXXXX`). The file replaced keeps its mode and owner;
// a new one gets the umask's mode. A link to a file stays a link, and the file it leads to is
// replaced. Something that is not a regular file (a terminal, a pipe, /dev/stdout) is written to
// as it is.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace virtform
