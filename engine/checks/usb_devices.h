#pragma once
// Host USB devices given to guests ([[vm.X.usb]]) against the host's (sys/bus/usb/devices):
// libvirt starts no guest whose device is not plugged in, takes none by ids that several
// devices have, and gives a device to one running guest at a time; plan says so first.

#include <optional>
#include <vector>

#include "engine/model/diagnostic.h"
#include "engine/model/host.h"
#include "engine/model/vm.h"

namespace virtform {

// For each declared device: an error when the host has none it names (a warning for an
// optional device, or a VM that is to stay stopped), or several by ids alone; an error when two
// guests that may run, or two entries of one guest, name the same host device, or a running
// domain the config does not declare (another project's, one made by hand) has it.
void check_usb_devices(const Desired& desired, const Live& live, Diagnostics& diagnostics);

// The config with each USB device declared by port or serial given the bus and device number
// the host has it at now, which is all libvirt can find it by; nothing when no device is declared
// so. A device the host does not have there is left out of the copy: an error for a guest that
// would not start without it, a warning for an optional one or a VM that is to stay stopped.
// Several devices with one serial and ids are an error.
std::optional<Desired> place_usb_devices(const Desired& desired,
                                         const std::vector<UsbHostDevice>& host,
                                         Diagnostics& diagnostics);

}  // namespace virtform
