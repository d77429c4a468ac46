#include "support/counting_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace virtform::testing {

CountingListener::CountingListener() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(fd_, 8) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  port_ = ntohs(address.sin_port);
}

CountingListener::~CountingListener() {
  for (int client : held_) ::close(client);
  ::close(fd_);
}

int CountingListener::accepted() {
  int count = 0;
  for (int client; (client = ::accept(fd_, nullptr, nullptr)) >= 0; ++count) ::close(client);
  return count;
}

int CountingListener::accepted_and_held() {
  for (int client; (client = ::accept(fd_, nullptr, nullptr)) >= 0;) held_.push_back(client);
  return static_cast<int>(held_.size());
}

}  // namespace virtform::testing
