#include "line_reader.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace medtrail {

LineReader::LineReader(std::FILE* file, std::size_t max_line_bytes)
    : file_(file), fd_(::fileno(file)), max_(max_line_bytes), buffer_(1 << 16) {}

bool LineReader::fill() {
  if (eof_ || error_) return false;
  begin_ = 0;
  end_ = 0;
  if (fd_ >= 0) {
    ssize_t n;
    do {
      n = ::read(fd_, buffer_.data(), buffer_.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) error_ = true;
    else if (n == 0) eof_ = true;
    else end_ = static_cast<std::size_t>(n);
  } else {  // a stream with no descriptor (fmemopen, in the fuzz target)
    end_ = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    if (end_ == 0) {
      if (std::ferror(file_)) error_ = true;
      else eof_ = true;
    }
  }
  return end_ > 0;
}

LineReader::Status LineReader::next(std::string& line) {
  line.clear();
  bool too_long = false;
  bool any = false;
  for (;;) {
    if (begin_ == end_ && !fill()) break;
    any = true;
    const char* start = buffer_.data() + begin_;
    std::size_t available = end_ - begin_;
    const void* newline = std::memchr(start, '\n', available);
    std::size_t take = newline ? static_cast<std::size_t>(static_cast<const char*>(newline) - start) : available;
    if (!too_long) {
      if (line.size() + take <= max_) line.append(start, take);
      else too_long = true;
    }
    begin_ += take;
    if (newline) {
      ++begin_;
      break;
    }
  }
  if (!any) return Status::eof;
  ++line_number_;
  if (too_long) {
    line.clear();
    return Status::too_long;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return Status::line;
}

bool LineReader::wait_for_input(int timeout_ms) {
  if (begin_ < end_ || eof_ || error_ || fd_ < 0) return true;
  pollfd p{fd_, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n != 0;
}

}  // namespace medtrail
