#include "sidecar/dispatch/response_reader.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <limits>

#include "sidecar/dispatch/outcome.hpp"

namespace osmosis::sidecar {

namespace bhttp = boost::beast::http;

size_t headLength(std::string_view in) {
  size_t lineStart = 0;
  for (size_t lf = in.find('\n'); lf != std::string_view::npos; lf = in.find('\n', lf + 1)) {
    const size_t lineLength = lf - lineStart;
    if (lineStart > 0 && (lineLength == 0 || (lineLength == 1 && in[lineStart] == '\r')))
      return lf + 1;  // the empty line
    lineStart = lf + 1;
  }
  return std::string_view::npos;
}

void ResponseReader::Parser::on_field_impl(field name, string_view nameText, string_view value,
                                           error_code&) {
  // (Bounded: the head is at most kMaxHeadBytes.)
  if (capturing) headers.emplace_back(std::string(nameText), std::string(value));
  if (name == field::retry_after) {
    retryAfter = parseRetryAfter(std::string(value));
  } else if (name == field::transfer_encoding) {
    transferEncoding = true;
  } else if (name == field::content_length) {
    contentLength = true;
  }
}

void ResponseReader::Parser::on_header_impl(error_code& ec) {
  // Both lengths: the framing is ambiguous (RFC 9112 6.3 calls it an error). Beast takes one or
  // the other depending on their order.
  if (transferEncoding && contentLength) ec = bhttp::error::bad_transfer_encoding;
}

void ResponseReader::Parser::keep(string_view b) {
  if (!capturing) return;
  bodyBytes += b.size();
  if (!bodyKept) return;
  if (body.size() + b.size() > *captureLimit) {
    bodyKept = false;  // counted on, never kept: the memory is bounded by the limit
    std::string().swap(body);
    return;
  }
  body.append(b.data(), b.size());
}

void ResponseReader::freshParser() {
  parser_.emplace();
  parser_->captureLimit = captureLimit_;
  parser_->header_limit(static_cast<uint32_t>(kMaxHeadBytes));
  // Skipped, never kept: no limit. (Not boost::none: Beast 1.74 compares a Content-Length
  // with it as with a value, and every length is then "over the limit".)
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  parser_->eager(true);
}

void ResponseReader::reset(std::optional<size_t> captureLimit) {
  captureLimit_ = captureLimit;
  freshParser();
  started_ = false;
  status_ = 0;
  retryAfter_.reset();
  keepAlive_ = false;
  interim_ = 0;
  problem_.clear();
}

ResponseReader::State ResponseReader::bad(std::string problem) {
  problem_ = std::move(problem);
  return State::kBad;
}

// One answer is complete: the final one, or a 1xx to skip.
ResponseReader::State ResponseReader::finishOne() {
  const int status = parser_->status;
  if (status < 100) return bad("malformed status code " + std::to_string(status));
  if (status == 101) return bad("the app switched protocols (101), which was not asked");
  if (status < 200) {
    if (++interim_ > kMaxInterim) return bad("too many interim (1xx) answers");
    freshParser();  // the final answer follows
    return State::kNeedMore;
  }
  status_ = status;
  retryAfter_ = parser_->retryAfter;
  keepAlive_ = parser_->keep_alive();
  return State::kDone;
}

ResponseReader::State ResponseReader::parse(std::string_view in, size_t* used) {
  *used = 0;
  if (!in.empty()) started_ = true;
  for (;;) {
    std::string_view rest = in.substr(*used);
    boost::beast::error_code ec;
    if (!parser_->is_header_done()) {
      const size_t length = headLength(rest);
      if (length == std::string_view::npos) {
        if (rest.size() > kMaxHeadBytes) return bad("answer head too large");
        return State::kNeedMore;
      }
      if (length > kMaxHeadBytes) return bad("answer head too large");
      std::string_view head = rest.substr(0, length);
      bool bareLf = false;
      for (size_t lf = head.find('\n'); lf != std::string_view::npos; lf = head.find('\n', lf + 1))
        bareLf = bareLf || lf == 0 || head[lf - 1] != '\r';
      if (bareLf) {
        head_.clear();
        for (size_t i = 0; i < head.size(); ++i) {
          if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) head_.push_back('\r');
          head_.push_back(head[i]);
        }
        head = head_;
      }
      const size_t took = parser_->put(boost::asio::buffer(head.data(), head.size()), ec);
      if (ec) return bad("malformed answer: " + ec.message());
      if (took != head.size() || !parser_->is_header_done()) return bad("malformed answer head");
      *used += length;
    } else if (!parser_->is_done()) {
      if (rest.empty()) return State::kNeedMore;
      const size_t took = parser_->put(boost::asio::buffer(rest.data(), rest.size()), ec);
      *used += took;
      if (ec == bhttp::error::need_more) {
        // A chunk-size line still arriving: bounded like a head.
        if (took == 0 && rest.size() > kMaxHeadBytes) return bad("malformed chunk size line");
        if (took == 0) return State::kNeedMore;
      } else if (ec) {
        return bad("malformed answer body: " + ec.message());
      }
      if (took == 0 && !parser_->is_done()) return State::kNeedMore;
    }
    if (parser_->is_done()) {
      if (State s = finishOne(); s != State::kNeedMore) return s;
    }
  }
}

ResponseReader::State ResponseReader::closed() {
  if (!started_) return bad("connection closed before the answer");
  if (!parser_->is_header_done()) {
    return bad(interim_ > 0 ? "connection closed after an interim (1xx) answer"
                            : "connection closed inside the answer head");
  }
  boost::beast::error_code ec;
  parser_->put_eof(ec);
  if (ec || !parser_->is_done()) return bad("connection closed inside the answer body");
  return finishOne();  // (final: a 1xx has no body, so it never ends with the connection)
}

}  // namespace osmosis::sidecar
