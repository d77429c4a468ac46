#pragma once
// Parsing and checking of the scalar values the configuration accepts: sizes, durations, PCI
// addresses, MAC addresses, checksums. Pure functions, shared by the loader, the providers that
// read the same values from the host, and their tests.

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace virtform {

// The size units the configuration accepts, for messages: "KiB, MiB, GiB, TiB".
inline constexpr std::string_view kSizeUnits = "KiB, MiB, GiB, TiB";

// "4GiB", "512MiB", "2048KiB", "1TiB" -> KiB; a plain integer means MiB. Nothing on bad input.
std::optional<std::uint64_t> parse_size_kib(const std::string& text);

// A size in the largest unit that holds it whole, as the config writes sizes: 2048 -> "2MiB",
// 1048576 -> "1GiB", 96 -> "96KiB".
std::string whole_unit_size(std::uint64_t kib);

// "120s", "2m", "1h" -> seconds. Nothing on bad input (no unit, negative, overflow).
std::optional<std::chrono::seconds> parse_duration(std::string_view text);

// "0000:08:00.0" or "08:00.0" (any case) -> "0000:08:00.0". Nothing if it is not a PCI address.
std::optional<std::string> canonical_pci_address(std::string_view text);
// The slot of a canonical address, without its function: "0000:06:00" of "0000:06:00.1".
std::string pci_slot(const std::string& canonical);

// "52:54:00:AB:cd:ef" -> "52:54:00:ab:cd:ef". Nothing unless six colon-separated hex octets.
std::optional<std::string> canonical_mac(std::string_view text);

// True if the MAC's first octet has the group bit set; libvirt refuses those for a NIC.
bool is_multicast_mac(std::string_view canonical);

// A set of host CPUs as the kernel and libvirt write one: "0-3,8" (ranges and single CPUs,
// comma-separated, in any order and overlap), as the sorted CPUs, or nothing on bad input. The
// largest CPU taken is 4095.
std::optional<std::set<unsigned>> parse_cpuset(std::string_view text);
// The CPUs as the kernel writes them, ranges merged: {0, 1, 2, 3, 8} -> "0-3,8".
std::string cpuset_text(const std::set<unsigned>& cpus);

// True if `text` is exactly `length` hexadecimal digits.
bool is_hex(std::string_view text, std::size_t length);

}  // namespace virtform
