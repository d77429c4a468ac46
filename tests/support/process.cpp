#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace virtform {
namespace {

std::string join(const std::vector<std::string>& argv) {
  std::string joined;
  for (const std::string& arg : argv) {
    if (!joined.empty()) joined += ' ';
    joined += arg;
  }
  return joined;
}

// The parent's environment with `extra` laid over it, as the "KEY=value" strings execve wants.
std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string text = *entry;
    std::string key = text.substr(0, text.find('='));
    if (!extra.contains(key)) entries.push_back(std::move(text));
  }
  for (const auto& [key, value] : extra)
    entries.push_back(std::string(key).append("=").append(value));
  return entries;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Runs in the child between fork and exec: only async-signal-safe calls from here on.
[[noreturn]] void exec_child(int in_fd, int out_write, int err_write, char** argv, char** envp,
                             bool own_group) {
  if (own_group) setpgid(0, 0);
  if (in_fd < 0) in_fd = open("/dev/null", O_RDONLY);
  if (in_fd >= 0) dup2(in_fd, STDIN_FILENO);
  dup2(out_write, STDOUT_FILENO);
  dup2(err_write, STDERR_FILENO);
  execvpe(argv[0], argv, envp);
  const char message[] = "process: exec failed\n";
  ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
  (void)ignored;
  _exit(127);
}

// Appends what is available on `fd` to `sink`; false at end of file.
bool drain(int fd, std::string& sink) {
  char buffer[65536];
  ssize_t count = read(fd, buffer, sizeof buffer);
  if (count > 0) {
    sink.append(buffer, static_cast<std::size_t>(count));
    return true;
  }
  return count < 0 && (errno == EINTR || errno == EAGAIN);
}

}  // namespace

std::string ProcessResult::describe() const {
  std::string text = "$ " + command + "\nexit code: " + std::to_string(exit_code);
  if (timed_out) text += " (timed out)";
  text += "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err;
  return text;
}

Process::Process(std::vector<std::string> argv, const std::map<std::string, std::string>& extra_env,
                 bool own_process_group, Stdin stdin_from)
    : argv_(std::move(argv)),
      own_group_(own_process_group),
      started_(std::chrono::steady_clock::now()) {
  if (argv_.empty()) throw std::runtime_error("process: empty command");
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("process: pipe failed");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw std::runtime_error("process: pipe failed");
  }
  int terminal_side = -1;
  if (stdin_from == Stdin::terminal &&
      openpty(&terminal_fd_, &terminal_side, nullptr, nullptr, nullptr) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[0]);
    close(err_pipe[1]);
    throw std::runtime_error("process: openpty failed");
  }
  // dup2 gives the child its stdin without these flags; no other child inherits either side.
  if (terminal_fd_ >= 0) {
    fcntl(terminal_fd_, F_SETFD, FD_CLOEXEC);
    fcntl(terminal_side, F_SETFD, FD_CLOEXEC);
  }
  // Everything the child needs is built before fork, so the child only calls exec.
  std::vector<std::string> args = argv_;
  std::vector<std::string> env = merged_environment(extra_env);
  std::vector<char*> arg_pointers = pointers_to(args);
  std::vector<char*> env_pointers = pointers_to(env);

  pid_ = fork();
  if (pid_ == 0) {
    exec_child(terminal_side, out_pipe[1], err_pipe[1], arg_pointers.data(), env_pointers.data(),
               own_group_);
  }
  if (terminal_side >= 0) close(terminal_side);
  // Also here, so the group exists before the constructor returns, whoever runs first.
  if (pid_ > 0 && own_group_) setpgid(pid_, pid_);
  close(out_pipe[1]);
  close(err_pipe[1]);
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  if (pid_ < 0) {
    close(out_fd_);
    close(err_fd_);
    if (terminal_fd_ >= 0) close(terminal_fd_);
    throw std::runtime_error("process: fork failed: " + std::string(std::strerror(errno)));
  }
}

Process::~Process() {
  if (pid_ > 0) {
    ::kill(own_group_ ? -pid_ : pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
  if (terminal_fd_ >= 0) close(terminal_fd_);
}

void Process::write_input(const std::string& text) {
  if (terminal_fd_ < 0) throw std::runtime_error("process: the child has no terminal to type on");
  if (write(terminal_fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("process: cannot type on the child's terminal");
}

void Process::kill(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

void Process::kill_group(int signal) {
  if (pid_ > 0 && own_group_) ::kill(-pid_, signal);
}

bool Process::wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!out_closed_ && out_read_.find(needle) == std::string::npos) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) break;
    pollfd fd = {out_fd_, POLLIN, 0};
    int ready = poll(&fd, 1, static_cast<int>(std::min<long long>(remaining.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0) out_closed_ = !drain(out_fd_, out_read_);
  }
  return out_read_.find(needle) != std::string::npos;
}

ProcessResult Process::wait(std::chrono::milliseconds timeout) {
  ProcessResult result;
  result.command = join(argv_);
  result.out = std::move(out_read_);
  bool out_open = !out_closed_;
  bool err_open = true;
  const auto deadline = started_ + timeout;
  while (out_open || err_open) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0 && !result.timed_out) {
      // Still running past its deadline: kill it and keep reading until the pipes close.
      ::kill(own_group_ ? -pid_ : pid_, SIGKILL);  // qemu-img and the like with it
      result.timed_out = true;
    }
    pollfd fds[2] = {{out_open ? out_fd_ : -1, POLLIN, 0}, {err_open ? err_fd_ : -1, POLLIN, 0}};
    int wait_ms =
        result.timed_out ? 1000 : static_cast<int>(std::min<long long>(remaining.count(), 1000));
    int ready = poll(fds, 2, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    // A killed child whose pipes are still held open by its own children: stop waiting.
    if (ready == 0 && result.timed_out) break;
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      out_open = drain(out_fd_, result.out);
    }
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      err_open = drain(err_fd_, result.err);
    }
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = 128 + WTERMSIG(status);
  return result;
}

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& extra_env,
                          std::chrono::milliseconds timeout) {
  return Process(argv, extra_env).wait(timeout);
}

}  // namespace virtform
