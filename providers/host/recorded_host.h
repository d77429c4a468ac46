#pragma once
// A recorded host (virtform capture, committed to git) is input from whoever can open a pull
// request: a plan against it must not read, nor tell anything about, the files of the machine
// it runs on.

#include <string>

namespace virtform {

// Throws SystemError, naming the file and what is wrong, when `host_xml` refers to another file
// (libvirt's test driver reads <domain file="...">, <network file=...>, <pool file=...>,
// <volume file=...>, <interface file=...>, <device file=...> and would put its text in an error)
// or declares entities, or when `host_xml`, or `root` or a link anywhere under it, leads out of
// `snapshot` (the directory the recording is in), or when `root` has links leading out of it.
// Links that stay inside, as capture records /dev/disk/by-id/X -> ../../sdb, are fine. `root`
// may be empty or missing: a recording without files.
void check_recorded_host(const std::string& snapshot, const std::string& host_xml,
                         const std::string& root);

}  // namespace virtform
