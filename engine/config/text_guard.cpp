#include "engine/config/text_guard.h"

#include <utility>
#include <vector>

namespace virtform {
namespace {

// toml++ bounds nested arrays and inline tables (256 levels) but not dotted keys, and its parser
// and its tables recurse once per level: a key "a.a.a..." of 40,000 parts overflows the stack.
// A dotted key cannot span lines and virtform's keys have at most three parts.
constexpr int kMaxDotsPerLine = 64;

bool is_utf8_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

bool is_non_ascii(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}

// What ends a bare value (a number, a date, true) for toml++: it reads on over anything else,
// quotes and brackets included, classifying every character it meets.
bool is_value_terminator(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ']' || c == '}' || c == ',' ||
         c == '#';
}

// What may stand just before a quote that opens a string: the start of a line, white space, or
// the punctuation before a key or a value. After anything else (`ab"é"`) the quote is part of a
// bare token.
bool may_open_string_after(char previous) {
  return previous == '\n' || previous == ' ' || previous == '\t' || previous == '=' ||
         previous == '[' || previous == '{' || previous == ',' || previous == '.';
}

// Walks the text as toml++'s lexer does, as far as telling strings, comments and bare text
// apart needs: keys, bare values, and the arrays and inline tables values open.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::optional<TextProblem> run() {
    if (text_.starts_with("\xEF\xBB\xBF")) at_ = 3;  // a byte-order mark, which toml++ skips
    for (; at_ < text_.size(); ++at_) {
      const char c = text_[at_];
      if (!is_utf8_continuation(c)) ++column_;
      if (c == '\n') {
        new_line();
      } else if (comment_) {
        continue;
      } else if (auto problem = quote_.empty() ? outside_strings(c) : in_string(c)) {
        return problem;
      }
    }
    return std::nullopt;
  }

 private:
  void new_line() {
    ++line_;
    column_ = 0;
    dots_ = 0;
    comment_ = false;
    if (quote_.size() == 1) quote_ = {};  // only """ and ''' strings go on past a line's end
    if (!quote_.empty()) return;          // a multi-line string goes on
    previous_ = '\n';
    in_value_token_ = false;
    if (brackets_.empty()) expecting_value_ = false;  // the next line starts with a key
  }

  std::optional<TextProblem> in_string(char c) {
    const bool multi_line_basic = quote_ == "\"\"\"";
    if (skipping_after_line_end_) {
      if (c == ' ' || c == '\t' || c == '\r') return std::nullopt;
      skipping_after_line_end_ = false;
      if (is_non_ascii(c)) return after_backslash(column_);
    }
    if (c == '\\' && quote_[0] == '"' && at_ + 1 < text_.size()) {
      const char next = text_[at_ + 1];
      // toml++ asks whether the character after a backslash in a """ string, or the first one
      // after a line-ending backslash, is white space: for a non-ASCII one that is undefined.
      if (multi_line_basic && is_non_ascii(next)) return after_backslash(column_ + 1);
      if (multi_line_basic && (next == ' ' || next == '\t' || next == '\r' || next == '\n')) {
        skipping_after_line_end_ = true;
      } else if (next != '\n') {
        ++at_;  // an escaped character, perhaps a quote
        ++column_;
      }
    } else if (text_.substr(at_, quote_.size()) == quote_) {
      skip(quote_.size() - 1);
      quote_ = {};
      previous_ = c;
      expecting_value_ = false;
    }
    return std::nullopt;
  }

  TextProblem after_backslash(int column) const {
    return {line_, column,
            "a non-ASCII character just after a backslash in a \"\"\" string (or after a "
            "line-ending backslash's white space): virtform's TOML reader cannot take it there; "
            "write it as \\uXXXX"};
  }

  std::optional<TextProblem> outside_strings(char c) {
    const char previous = std::exchange(previous_, c);
    if (in_value_token_) {
      if (!is_value_terminator(c)) return bare(c);
      in_value_token_ = false;
    }
    switch (c) {
      case '#':
        comment_ = true;
        return std::nullopt;
      case '=':
        expecting_value_ = true;
        return std::nullopt;
      case '[':
        // In a value an array; elsewhere a table header, which holds keys.
        if (expecting_value_) brackets_.push_back('[');
        return std::nullopt;
      case '{':
        if (expecting_value_) brackets_.push_back('{');
        expecting_value_ = false;
        return std::nullopt;
      case ']':
      case '}':
        if (!brackets_.empty() && brackets_.back() == (c == ']' ? '[' : '{')) brackets_.pop_back();
        expecting_value_ = false;
        return std::nullopt;
      case ',':
        // The next element of an array is a value; of an inline table, a key.
        expecting_value_ = !brackets_.empty() && brackets_.back() == '[';
        return std::nullopt;
      case ' ':
      case '\t':
      case '\r':
        return std::nullopt;
      case '"':
      case '\'':
        if (!may_open_string_after(previous)) break;
        open_string(c);
        return std::nullopt;
      default:
        break;
    }
    if (expecting_value_) {
      in_value_token_ = true;
      expecting_value_ = false;
    }
    return bare(c);
  }

  void open_string(char c) {
    const bool triple = text_.substr(at_, 3) == std::string(3, c);
    quote_ = text_.substr(at_, triple ? 3 : 1);
    skip(quote_.size() - 1);
  }

  // A character of a bare key or value.
  std::optional<TextProblem> bare(char c) {
    if (c == '.' && ++dots_ > kMaxDotsPerLine) {
      return TextProblem{line_, 1,
                         "more than " + std::to_string(kMaxDotsPerLine) +
                             " dots on one line outside strings: keys nested this deep are not "
                             "virtform's (its deepest is vm.NAME.disk)"};
    }
    if (is_non_ascii(c)) {
      return TextProblem{line_, column_,
                         "a non-ASCII character outside a string or comment: TOML keys are "
                         "ASCII letters, digits, '-' and '_' (write a quoted key, \"...\", for "
                         "any other)"};
    }
    return std::nullopt;
  }

  // Skips ASCII delimiter characters after the current one.
  void skip(std::size_t count) {
    at_ += count;
    column_ += static_cast<int>(count);
  }

  std::string_view text_;
  std::size_t at_ = 0;
  int line_ = 1;
  int column_ = 0;                        // of text_[at_], once counted
  int dots_ = 0;                          // on this line, outside strings and comments
  bool comment_ = false;                  // inside a comment, up to the line's end
  std::string_view quote_;                // the open string's delimiter: " ' """ or '''
  char previous_ = '\n';                  // the last character outside strings and comments
  bool expecting_value_ = false;          // after '=', or between an array's elements
  bool in_value_token_ = false;           // inside a bare value, up to a value terminator
  std::vector<char> brackets_;            // the arrays ('[') and inline tables ('{') values opened
  bool skipping_after_line_end_ = false;  // in a """ string, after a line-ending backslash
};

}  // namespace

std::optional<TextProblem> refused_before_parsing(std::string_view text) {
  return Scanner(text).run();
}

}  // namespace virtform
