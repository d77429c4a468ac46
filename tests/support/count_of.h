#pragma once
// How often a piece of text stands in a document (an element in domain XML, say), overlaps
// counted: tests tell "written once" from "written twice" by it.

#include <cstddef>
#include <string>

namespace virtform::test {

inline std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

}  // namespace virtform::test
