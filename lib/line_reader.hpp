// Reads newline-delimited input in bounded memory: a line longer than the limit is reported
// as too long and skipped to its end, never buffered whole.
#pragma once
#include <cstdio>
#include <string>

namespace medtrail {

class LineReader {
 public:
  enum class Status { line, too_long, eof };
  LineReader(std::FILE* file, std::size_t max_line_bytes) : file_(file), max_(max_line_bytes) {}
  // Fills `line` (without "\n" or a trailing "\r"); line_number() counts from 1.
  Status next(std::string& line);
  std::uint64_t line_number() const { return line_number_; }
  bool failed() const { return std::ferror(file_) != 0; }

 private:
  std::FILE* file_;
  std::size_t max_;
  std::uint64_t line_number_ = 0;
};

}  // namespace medtrail
