#pragma once
// SHA-256, for fingerprints of the state a plan was made from and for image contents.

#include <cstddef>
#include <string>
#include <string_view>

namespace virtform {

// Lower-case hex of a digest.
std::string to_hex(const unsigned char* bytes, std::size_t length);

// Lower-case hex SHA-256 of the bytes.
std::string sha256_hex(std::string_view bytes);

}  // namespace virtform
