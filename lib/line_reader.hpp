// Reads newline-delimited input in bounded memory: a line longer than the limit is reported
// as too long and skipped to its end, never buffered whole.
//
// It keeps its own buffer (read(2) on a descriptor, fread otherwise) so that a caller can
// ask whether more input is at hand and wait for it with a timeout: a live gateway stream
// that goes quiet still gets its pending records committed.
#pragma once
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace medtrail {

class LineReader {
 public:
  enum class Status { line, too_long, eof };
  LineReader(std::FILE* file, std::size_t max_line_bytes);
  // Fills `line` (without "\n" or a trailing "\r"); line_number() counts from 1.
  Status next(std::string& line);
  // True when input is buffered or arrives within timeout_ms (or cannot be waited for);
  // false when the timeout passed with nothing to read.
  bool wait_for_input(int timeout_ms);
  // The input from the current position up to and including the first line with something
  // other than blanks (or max_bytes, or the end), without consuming it: format detection.
  std::string_view peek_first_line(std::size_t max_bytes);
  void set_max_line(std::size_t max_line_bytes) { max_ = max_line_bytes; }
  std::uint64_t line_number() const { return line_number_; }
  bool failed() const { return error_; }

 private:
  bool fill();

  std::FILE* file_;
  int fd_;
  std::size_t max_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool error_ = false;
  std::uint64_t line_number_ = 0;
};

}  // namespace medtrail
