#pragma once
// A TCP port on the loopback that accepts connections and counts them, standing in for a remote
// libvirtd that never answers: tests learn whether virtform contacted it, and how often.

#include <string>
#include <vector>

namespace virtform::testing {

class CountingListener {
 public:
  CountingListener();
  ~CountingListener();
  CountingListener(const CountingListener&) = delete;
  CountingListener& operator=(const CountingListener&) = delete;

  std::string uri() const { return "qemu+tcp://127.0.0.1:" + std::to_string(port_) + "/system"; }
  // The connections made so far (each is closed at once, which fails libvirt's handshake).
  int accepted();
  // The connections made so far, kept open and never answered, as a hung daemon would.
  int accepted_and_held();

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> held_;  // accepted_and_held's connections, closed with the listener
};

}  // namespace virtform::testing
