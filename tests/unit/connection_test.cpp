// Which daemon a connection reaches, whatever the URI's spelling.

#include "providers/libvirt/connection.h"

#include <unistd.h>

#include <catch2/catch.hpp>

namespace virtform {
namespace {

TEST_CASE("URI spellings of one daemon have one canonical form", "[connection]") {
  CHECK(canonical_daemon_uri("qemu+unix:///system") == "qemu:///system");
  CHECK(canonical_daemon_uri("qemu:///system") == "qemu:///system");
  CHECK(canonical_daemon_uri("qemu+ssh://root@host.example:2222/system") == "qemu:///system");
  CHECK(canonical_daemon_uri("qemu+tcp://127.0.0.1/system?no_verify=1") == "qemu:///system");
  CHECK(canonical_daemon_uri("test:///default") == "test:///default");
  CHECK(canonical_daemon_uri("test:///srv/snapshot/host.xml") == "test:///srv/snapshot/host.xml");
}

TEST_CASE("keepalive is for daemons reached over a network", "[connection]") {
  CHECK_FALSE(reaches_over_network("qemu:///system"));
  CHECK_FALSE(reaches_over_network("qemu+unix:///system?socket=/run/proxy.sock"));
  CHECK_FALSE(reaches_over_network("qemu:///session"));
  CHECK(reaches_over_network("qemu://alice@/session"));
  CHECK_FALSE(reaches_over_network("test:///default"));
  CHECK(reaches_over_network("qemu+ssh://root@host.example:2222/system"));
  CHECK(reaches_over_network("qemu+tcp://127.0.0.1/system"));
  CHECK(reaches_over_network("qemu+tls://host/system"));
  CHECK(reaches_over_network("qemu://host.example/system"));  // TLS by default
  CHECK(reaches_over_network("qemu+ext:///system?command=/opt/tunnel"));
  CHECK(reaches_over_network("myhost"));  // an alias names any URI
}

TEST_CASE("what tells daemons apart stays in the canonical form", "[connection]") {
  CHECK(canonical_daemon_uri("qemu:///session") != canonical_daemon_uri("qemu:///system"));
  CHECK(canonical_daemon_uri("qemu+ssh://alice@h/session") == "qemu://alice@/session");
  CHECK(canonical_daemon_uri("qemu+ssh://alice@h/session") !=
        canonical_daemon_uri("qemu+ssh://bob@h/session"));
  CHECK(canonical_daemon_uri("qemu+unix:///system?socket=/run/other-sock&mode=legacy") ==
        "qemu:///system?socket=/run/other-sock");
  CHECK(canonical_daemon_uri("xen:///system") != canonical_daemon_uri("qemu:///system"));
}

TEST_CASE("a connection names its daemon by canonical URI and host name", "[connection]") {
  char host[256] = {};
  REQUIRE(gethostname(host, sizeof host - 1) == 0);
  const Connection connection("test:///default");
  CHECK(connection.daemon() == std::string("test:///default on ") + host);
}

}  // namespace
}  // namespace virtform
