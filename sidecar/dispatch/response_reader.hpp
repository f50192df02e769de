#pragma once

// Reads the app's answer to one request, as its bytes arrive, with Boost.Beast's HTTP/1.1
// parser. Only what the sidecar acts on is kept (status, Retry-After, whether the connection
// can carry another request); bodies are skipped, unless the answer is kept for a results
// event (capture): then a 2xx answer's headers, and its body up to a limit, are kept too. Interim
// 1xx answers are skipped too: the final answer that follows is the request's answer. Anything the
// parser refuses, or that leaves the framing in doubt, is "bad": the caller closes the connection
// and naks.

#include <boost/beast/http/basic_parser.hpp>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace osmosis::sidecar {

class ResponseReader {
 public:
  enum class State { kNeedMore, kDone, kBad };

  ResponseReader() { reset(); }
  // Ready for the next answer; `captureLimit` set: keep a 2xx answer's headers and its body up
  // to that many bytes (a longer body is counted, not kept).
  void reset(std::optional<size_t> captureLimit = std::nullopt);

  // Takes what it can of `in` (the bytes received and not taken yet) and stores in `*used`
  // how many it took. kDone: the final answer is complete; bytes after it are not taken.
  State parse(std::string_view in, size_t* used);
  // The app closed the connection (after parse() took everything): kDone when that is how the
  // answer ends (a body without a length), else kBad.
  State closed();

  bool started() const { return started_; }  // any byte of an answer seen
  int status() const { return status_; }
  const std::optional<std::chrono::milliseconds>& retryAfter() const { return retryAfter_; }
  // The connection may carry another request (HTTP/1.1 without Connection: close, or 1.0
  // with keep-alive, and a body that did not run until close).
  bool keepAlive() const { return keepAlive_; }
  int interim() const { return interim_; }  // 1xx answers skipped
  const std::string& problem() const { return problem_; }
  // With capture, once kDone (a 2xx): what was kept. take* moves it out.
  using HeaderList = std::vector<std::pair<std::string, std::string>>;
  HeaderList takeHeaders() { return std::move(parser_->headers); }
  std::string takeBody() { return std::move(parser_->body); }
  uint64_t bodyBytes() const { return parser_->bodyBytes; }
  bool bodyKept() const { return parser_->bodyKept; }
  bool captured() const { return parser_->capturing; }

  // Limits: the head of one answer, and 1xx answers before the final one.
  static constexpr size_t kMaxHeadBytes = 64 * 1024;
  static constexpr int kMaxInterim = 16;

 private:
  // Beast's parser, keeping only what the sidecar needs (no allocation per answer).
  class Parser final : public boost::beast::http::basic_parser<false> {
   public:
    Parser() {}  // (user-provided: clang 14 does not see the base's protected one otherwise)
    int status = 0;
    std::optional<std::chrono::milliseconds> retryAfter;
    bool transferEncoding = false;
    bool contentLength = false;
    // Capture (a 2xx answer, when asked):
    std::optional<size_t> captureLimit;
    bool capturing = false;
    HeaderList headers;
    std::string body;
    uint64_t bodyBytes = 0;
    bool bodyKept = true;

   private:
    using error_code = boost::beast::error_code;
    using field = boost::beast::http::field;
    using string_view = boost::beast::string_view;
    void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                         error_code&) override {}
    void on_response_impl(int code, string_view, int, error_code&) override {
      status = code;
      capturing = captureLimit.has_value() && code >= 200 && code < 300;
    }
    void on_field_impl(field name, string_view nameText, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code& ec) override;
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    size_t on_body_impl(string_view b, error_code&) override {
      keep(b);
      return b.size();
    }
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    size_t on_chunk_body_impl(std::uint64_t, string_view b, error_code&) override {
      keep(b);
      return b.size();
    }
    void keep(string_view b);
    void on_finish_impl(error_code&) override {}
  };

  void freshParser();
  State bad(std::string problem);
  State finishOne();

  std::optional<size_t> captureLimit_;
  std::optional<Parser> parser_;
  bool started_ = false;
  int status_ = 0;
  std::optional<std::chrono::milliseconds> retryAfter_;
  bool keepAlive_ = false;
  int interim_ = 0;
  std::string problem_;
  std::string head_;  // a head with bare LF line ends, rewritten with CRLF for the parser
};

// The length of the head at the start of `in` (status line, fields and the empty line that
// ends them), with CRLF or bare LF line ends; npos while it is incomplete. RFC 9112 2.2: a
// recipient may take a bare LF as a line end; Beast's parser takes only CRLF.
size_t headLength(std::string_view in);

}  // namespace osmosis::sidecar
