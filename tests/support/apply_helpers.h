#pragma once
// What apply's unit tests put in place of time and of a guest's own behaviour, over libvirt's
// real test driver: a clock that moves only when apply waits, so timeouts are reached at once,
// and a guest that ignores the ACPI power button (the test driver powers a guest off as soon as
// it is asked).

#include <chrono>
#include <string>

#include "engine/system/clock.h"
#include "providers/libvirt/libvirt_hypervisor.h"

namespace virtform::testing {

class ManualClock : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return now_; }
  void sleep_for(std::chrono::milliseconds duration) override { now_ += duration; }

 private:
  std::chrono::steady_clock::time_point now_{};
};

class GuestIgnoringAcpi : public LibvirtHypervisor {
 public:
  using LibvirtHypervisor::LibvirtHypervisor;
  void request_shutdown(const std::string&) override {}
};

}  // namespace virtform::testing
