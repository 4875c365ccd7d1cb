#include "line_reader.hpp"

namespace medtrail {

LineReader::Status LineReader::next(std::string& line) {
  line.clear();
  bool too_long = false;
  bool any = false;
  int c;
  while ((c = std::getc(file_)) != EOF) {
    any = true;
    if (c == '\n') break;
    if (line.size() < max_) line.push_back(static_cast<char>(c));
    else too_long = true;
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

}  // namespace medtrail
