#pragma once

// Splits a watch stream into lines. Chunks arrive at arbitrary boundaries (an object of
// several MB spans many chunks); the unfinished tail is carried over and only new bytes are
// scanned, so the work is linear in the bytes read.

#include <cstddef>
#include <string>
#include <string_view>

namespace osmosis::kube {

class LineSplitter {
 public:
  // maxLine bounds memory when a peer never sends a newline.
  explicit LineSplitter(size_t maxLine = 64u << 20) : maxLine_(maxLine) {}

  // Calls onLine(std::string_view) for each complete line (without '\n', '\r' stripped).
  // Returns false if the carried-over line grew past maxLine (the stream is then unusable).
  template <typename F>
  bool feed(std::string_view chunk, F&& onLine) {
    size_t pos = 0;
    while (pos < chunk.size()) {
      size_t nl = chunk.find('\n', pos);
      if (nl == std::string_view::npos) {
        carry_.append(chunk.substr(pos));
        return carry_.size() <= maxLine_;
      }
      std::string_view piece = chunk.substr(pos, nl - pos);
      if (carry_.empty()) {
        emit(piece, onLine);
      } else {
        carry_.append(piece);
        emit(carry_, onLine);
        carry_.clear();
      }
      pos = nl + 1;
    }
    return true;
  }

  size_t buffered() const { return carry_.size(); }
  void reset() { carry_.clear(); }

 private:
  template <typename F>
  static void emit(std::string_view line, F& onLine) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) onLine(line);
  }
  size_t maxLine_;
  std::string carry_;
};

}  // namespace osmosis::kube
