#include "line_reader.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
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

std::string_view LineReader::peek_first_line(std::size_t max_bytes) {
  auto has_first_line = [&]() {
    bool content = false;
    for (std::size_t i = begin_; i < end_; ++i) {
      char c = buffer_[i];
      if (c == '\n' && content) return true;
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') content = true;
    }
    return false;
  };
  while (end_ - begin_ < max_bytes && !eof_ && !error_ && !has_first_line()) {
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    std::size_t room = buffer_.size() - end_;
    std::size_t got = 0;
    if (fd_ >= 0) {
      ssize_t n;
      do {
        n = ::read(fd_, buffer_.data() + end_, room);
      } while (n < 0 && errno == EINTR);
      if (n < 0) error_ = true;
      else got = static_cast<std::size_t>(n);
    } else {
      got = std::fread(buffer_.data() + end_, 1, room, file_);
      if (got == 0 && std::ferror(file_)) error_ = true;
    }
    if (got == 0 && !error_) eof_ = true;
    end_ += got;
  }
  return {buffer_.data() + begin_, std::min(end_ - begin_, max_bytes)};
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
