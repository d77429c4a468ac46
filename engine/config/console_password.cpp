#include "engine/config/console_password.h"

#include <cstdlib>

namespace virtform {
namespace {

// VNC's authentication takes 8 characters; QEMU ignores the rest.
constexpr std::size_t kVncPasswordLength = 8;

// A source this host does not have (a recorded host in CI has no secrets, and a shell may lack
// the variable) leaves the plan unable to compare, which is worth a warning: apply defines no new
// guest without it, and leaves an existing console's password as it is.
bool source_missing(const Graphics& graphics, const HostFiles& files) {
  if (!graphics.password_file.empty()) return !files.exists(graphics.password_file);
  return !graphics.password_env.empty() && std::getenv(graphics.password_env.c_str()) == nullptr;
}

}  // namespace

std::optional<std::string> console_password(const Graphics& graphics, const HostFiles& files,
                                            std::string& why_not) {
  std::string password;
  if (!graphics.password_file.empty()) {
    const auto content = files.read(graphics.password_file);
    if (!content) {
      why_not = "password_file " + graphics.password_file +
                (files.exists(graphics.password_file) ? " cannot be read" : " does not exist");
      return std::nullopt;
    }
    password = content->substr(0, content->find_first_of("\r\n"));
  } else if (!graphics.password_env.empty()) {
    const char* value = std::getenv(graphics.password_env.c_str());
    password = value ? value : "";
  } else {
    return std::nullopt;
  }
  if (password.empty()) {
    why_not =
        graphics.password_file.empty()
            ? "password_env names " + graphics.password_env + ", which is " +
                  (std::getenv(graphics.password_env.c_str()) ? "empty" : "not set")
            : "password_file " + graphics.password_file + " has no password on its first line";
    return std::nullopt;
  }
  return password;
}

void resolve_console_passwords(Desired& desired, const HostFiles& files, Diagnostics& diagnostics) {
  for (Vm& vm : desired.vms) {
    if (!vm.graphics) continue;
    std::string why_not;
    vm.graphics->password = console_password(*vm.graphics, files, why_not);
    const std::string resource = "vm." + vm.key;
    if (!why_not.empty() && source_missing(*vm.graphics, files)) {
      diagnostics.push_back({Severity::warning,
                             why_not + " here: the plan cannot tell whether the console's "
                                       "password changes, and apply leaves it as it is (and "
                                       "defines no new guest without it)",
                             vm.where, resource});
    } else if (!why_not.empty()) {
      diagnostics.push_back({Severity::error,
                             why_not + ": the console's password comes from there, and a plan "
                                       "never carries it",
                             vm.where, resource});
    } else if (vm.graphics->password && vm.graphics->type == GraphicsType::vnc &&
               vm.graphics->password->size() > kVncPasswordLength) {
      diagnostics.push_back({Severity::warning,
                             "the VNC password is longer than 8 characters: VNC takes only the "
                             "first 8",
                             vm.where, resource});
    }
  }
}

}  // namespace virtform
