#pragma once
// Runs a program directly (fork + exec, no shell, so arguments need no quoting) and captures its
// stdout, stderr and exit code. Used by the end-to-end tests to drive the virtform binary and the
// few host tools they need (losetup, sha256sum, qemu-img).

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace virtform {

// What a finished process left behind.
struct ProcessResult {
  int exit_code = -1;      // the exit status, or 128 + signal number when it was killed
  std::string out;         // everything written to stdout
  std::string err;         // everything written to stderr
  bool timed_out = false;  // killed because it ran past its deadline
  std::string command;     // the argument vector joined by spaces, for messages

  // stdout and stderr together, for "the message appears somewhere" checks.
  std::string output() const { return out + err; }
  // A multi-line account of the run for test failure messages.
  std::string describe() const;
};

// Where a child's stdin comes from: /dev/null, or a pseudo-terminal the test types into
// (write_input), for programs that ask only when they have a terminal.
enum class Stdin { null, terminal };

// A child process started at construction.
class Process {
 public:
  // Starts argv[0] (looked up in PATH) with `extra_env` added to this process's environment.
  // With `own_process_group` the child leads a process group of its own, so that it can be
  // signalled together with the programs it starts, as a terminal's Ctrl-C or a service manager
  // would. Throws std::runtime_error when the program cannot be started.
  explicit Process(std::vector<std::string> argv,
                   const std::map<std::string, std::string>& extra_env = {},
                   bool own_process_group = false, Stdin stdin_from = Stdin::null);
  // Kills the child (by its PID; its whole group if it has its own) if it is still running, and
  // reaps it.
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The child's process ID.
  pid_t pid() const { return pid_; }
  // Reads both pipes to the end and reaps the child; kills it with SIGKILL once `timeout` has
  // passed since it started. Call once.
  ProcessResult wait(std::chrono::milliseconds timeout = std::chrono::minutes(10));
  // Reads the child's stdout until it holds `needle` (true), the child closes it, or `timeout`
  // passes (false). What is read is part of wait()'s result all the same.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);
  // Types `text` on the child's terminal (Stdin::terminal only).
  void write_input(const std::string& text);
  // Sends `signal` to the child.
  void kill(int signal);
  // Sends `signal` to the child's process group (only with `own_process_group`).
  void kill_group(int signal);

 private:
  std::vector<std::string> argv_;                  // what was started
  pid_t pid_ = -1;                                 // the child, -1 once reaped
  bool own_group_ = false;                         // the child leads process group pid_
  int out_fd_ = -1;                                // read end of the child's stdout
  int err_fd_ = -1;                                // read end of the child's stderr
  int terminal_fd_ = -1;                           // master side of the child's stdin terminal
  std::string out_read_;                           // stdout read by wait_for_output
  bool out_closed_ = false;                        // wait_for_output saw stdout's end
  std::chrono::steady_clock::time_point started_;  // for the deadline
};

// Starts a program and waits for it: Process(argv, extra_env).wait(timeout).
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& extra_env = {},
                          std::chrono::milliseconds timeout = std::chrono::minutes(10));

}  // namespace virtform
