#include "sidecar/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <CLI/CLI.hpp>

#include "common/contract/gateway_contract.hpp"
#include "common/contract/sidecar_contract.hpp"
#include "common/http/path.hpp"
#include "common/http/server.hpp"
#include "common/nats/subject.hpp"
#include "common/report/report.hpp"
#include "common/util/duration.hpp"

namespace osmosis::sidecar {
namespace {

// A duration flag within [min, max]: each has a consumer with a range (a timer, a poll
// interval), so what parses can never overflow where it is used (issue 16, item 5).
std::optional<milliseconds> duration(const std::string& flag, const std::string& text,
                                     milliseconds min, milliseconds max,
                                     std::vector<std::string>* problems) {
  auto d = parseDurationWithin(text, min, max);
  if (!d.ok()) {
    problems->push_back("--" + flag + " \"" + text + "\": " + d.error().message);
    return std::nullopt;
  }
  return std::chrono::duration_cast<milliseconds>(d.value());
}

}  // namespace

const char* modeName(Mode mode) {
  return mode == Mode::kDispatch ? "dispatch" : "report";
}

void addFlags(CLI::App& app, Config* c, RawFlags* raw) {
  app.add_option("--mode", raw->mode, "dispatch: deliver messages to the app; report: only report")
      ->envname(contract::kEnvMode)
      ->capture_default_str();
  app.add_option("--channel", c->channel, "Channel name (required)")
      ->envname(contract::kEnvChannel);
  app.add_option("--namespace", c->ns,
                 "Channel and pod namespace (default: $POD_NAMESPACE from the downward API)")
      ->envname(contract::kEnvNamespace);
  app.add_option("--pod", c->pod, "Pod name (default: $POD_NAME, else the host name)")
      ->envname(contract::kEnvPodName);
  app.add_option("--stream", c->stream, "JetStream stream name (required)")
      ->envname(contract::kEnvStream);
  app.add_option("--consumer", c->consumer, "Durable pull consumer name (required)")
      ->envname(contract::kEnvConsumer);
  app.add_option("--app-port", c->appPort, "The app's HTTP port on 127.0.0.1")
      ->envname(contract::kEnvAppPort)
      ->capture_default_str();
  app.add_option("--app-path", c->appPath, "The path messages are POSTed to")
      ->envname(contract::kEnvAppPath)
      ->capture_default_str();
  app.add_option("--concurrency", c->concurrency, "Messages in flight to the app at most")
      ->envname("OSMOSIS_CONCURRENCY")
      ->capture_default_str();
  app.add_option("--max-batch", c->maxBatch, "Messages asked for in one pull at most")
      ->envname("OSMOSIS_MAX_BATCH")
      ->capture_default_str();
  app.add_option("--message-timeout", raw->messageTimeout,
                 "How long the app may take for one message before it is nakked")
      ->envname("OSMOSIS_MESSAGE_TIMEOUT")
      ->capture_default_str();
  app.add_option("--ack-wait", raw->ackWait,
                 "The consumer's ack wait (default: read from the consumer); in-progress is sent "
                 "every half of it while the app works on a message")
      ->envname(contract::kEnvAckWait);
  app.add_option("--backoff", raw->backoff,
                 "Nak delays by delivery, e.g. 1s,5s,30s (default: the consumer's backoff list, "
                 "else exponential from 1s to 2m)")
      ->envname("OSMOSIS_BACKOFF");
  app.add_option("--dead-letter-subject", c->deadLetterSubject,
                 "Where permanently failed messages are published (default: none)")
      ->envname(contract::kEnvDeadLetterSubject);
  app.add_option("--report-interval", raw->reportInterval, "How often reports are published")
      ->envname("OSMOSIS_REPORT_INTERVAL")
      ->capture_default_str();
  app.add_option("--report-subject-prefix", c->reportSubjectPrefix,
                 "Reports go to <prefix>.<namespace>.<channel>")
      ->envname(contract::kEnvReportSubjectPrefix)
      ->capture_default_str();
  app.add_option("--listen", c->listen, "host:port for /healthz, /readyz and /metrics")
      ->envname(contract::kEnvListen)
      ->capture_default_str();
  app.add_option("--drain-grace", raw->drainGrace,
                 "On SIGTERM, how long in-flight messages may take before they are nakked "
                 "(keep it below the pod's terminationGracePeriodSeconds)")
      ->envname("OSMOSIS_DRAIN_GRACE")
      ->capture_default_str();
  app.add_flag("--results", c->results,
               "Publish results events (delivered, retry, result, failed) for messages that "
               "came through the gateway (Osmosis-Request-Id), and serve the local endpoint")
      ->envname(contract::gateway::kEnvResults);
  c->localListen = contract::gateway::kDefaultLocalListen;
  app.add_option("--local-listen", c->localListen,
                 "Loopback host:port of the local endpoint for the worker (progress, broadcast) "
                 "when --results is on; empty disables it")
      ->envname(contract::gateway::kEnvLocalListen)
      ->capture_default_str();
  app.add_option("--max-result-bytes", c->maxResultBytes,
                 "The largest app answer body kept for a result event (and the largest body the "
                 "local endpoint takes); a larger one is reported as omitted")
      ->envname("OSMOSIS_MAX_RESULT_BYTES")
      ->capture_default_str();
  nats::addFlags(app, &c->nats, &raw->natsUrls);
}

std::optional<std::string> loopbackProblem(const std::string& host) {
  in_addr addr{};
  if (::inet_pton(AF_INET, host.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127)
    return std::nullopt;
  return "\"" + host +
         "\" is not a loopback address (127.0.0.0/8): the local endpoint has no "
         "authentication and must not be reachable from outside the pod";
}

std::optional<std::vector<milliseconds>> parseBackoffList(const std::string& text,
                                                          std::string* problem) {
  std::vector<milliseconds> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    auto d = parseDurationWithin(item, milliseconds(1), std::chrono::hours(24));
    if (!d.ok()) {
      *problem = "\"" + item + "\": " + d.error().message;
      return std::nullopt;
    }
    if (out.size() >= kMaxBackoffSteps) {
      *problem = "at most " + std::to_string(kMaxBackoffSteps) + " delays";
      return std::nullopt;
    }
    out.push_back(std::chrono::duration_cast<milliseconds>(d.value()));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::string> finish(const RawFlags& raw, Config* c, EnvLookup env) {
  std::vector<std::string> problems;
  if (raw.mode == "dispatch") {
    c->mode = Mode::kDispatch;
  } else if (raw.mode == "report") {
    c->mode = Mode::kReport;
  } else {
    problems.push_back("--mode \"" + raw.mode + "\": use dispatch or report");
  }
  if (c->ns.empty()) c->ns = env("POD_NAMESPACE");
  if (c->pod.empty()) c->pod = env("POD_NAME");
  if (c->pod.empty()) c->pod = env("HOSTNAME");
  if (c->channel.empty()) problems.push_back("--channel is required (or OSMOSIS_CHANNEL)");
  if (c->ns.empty())
    problems.push_back("--namespace is required (or OSMOSIS_NAMESPACE, or POD_NAMESPACE)");
  if (c->pod.empty()) problems.push_back("--pod is required (or OSMOSIS_POD_NAME, or POD_NAME)");
  if (c->stream.empty()) problems.push_back("--stream is required (or OSMOSIS_STREAM)");
  if (c->consumer.empty()) problems.push_back("--consumer is required (or OSMOSIS_CONSUMER)");
  if (!c->channel.empty() && !c->ns.empty()) {
    auto subject = report::subjectFor(c->ns, c->channel, c->reportSubjectPrefix);
    if (!subject.ok()) problems.push_back(subject.error().message);
  }
  if (!c->stream.empty()) {
    if (auto why = nats::tokenProblem(c->stream)) problems.push_back("--stream: " + *why);
  }
  if (!c->consumer.empty()) {
    if (auto why = nats::tokenProblem(c->consumer)) problems.push_back("--consumer: " + *why);
  }
  if (c->appPort < 1 || c->appPort > 65535)
    problems.push_back("--app-port " + std::to_string(c->appPort) + " is not a port (1-65535)");
  if (auto why = http::pathProblem(c->appPath)) problems.push_back("--app-path " + *why);
  if (c->concurrency < 1 || c->concurrency > 10000)
    problems.push_back("--concurrency " + std::to_string(c->concurrency) +
                       " must be between 1 and 10000");
  if (c->maxBatch < 1 || c->maxBatch > 10000)
    problems.push_back("--max-batch " + std::to_string(c->maxBatch) +
                       " must be between 1 and 10000");
  using std::chrono::hours;
  using std::chrono::minutes;
  if (auto d =
          duration("message-timeout", raw.messageTimeout, milliseconds(10), hours(24), &problems))
    c->messageTimeout = *d;
  if (!raw.ackWait.empty()) {
    if (auto d = duration("ack-wait", raw.ackWait, milliseconds(100), hours(24), &problems))
      c->ackWait = *d;
  }
  if (!raw.backoff.empty()) {
    std::string why;
    auto list = parseBackoffList(raw.backoff, &why);
    if (!list) {
      problems.push_back("--backoff \"" + raw.backoff + "\": " + why);
    } else {
      c->backoff = *list;
    }
  }
  if (!c->deadLetterSubject.empty()) {
    if (auto why = nats::subjectProblem(c->deadLetterSubject, nats::Wildcards::kForbidden))
      problems.push_back("--dead-letter-subject: " + *why);
  }
  if (auto d =
          duration("report-interval", raw.reportInterval, milliseconds(100), minutes(1), &problems))
    c->reportInterval = *d;
  if (auto d = duration("drain-grace", raw.drainGrace, milliseconds(0), hours(1), &problems))
    c->drainGrace = *d;
  if (auto listen = http::parseListenAddress(c->listen); !listen.ok())
    problems.push_back("--listen: " + listen.error().message);
  if (!c->localListen.empty()) {
    if (auto listen = http::parseListenAddress(c->localListen); !listen.ok()) {
      problems.push_back("--local-listen: " + listen.error().message);
    } else if (auto why = loopbackProblem(listen->first)) {
      problems.push_back("--local-listen: " + *why);
    }
  }
  if (c->maxResultBytes < kMinResultBytes || c->maxResultBytes > kMaxResultBytes)
    problems.push_back("--max-result-bytes " + std::to_string(c->maxResultBytes) +
                       " must be between " + std::to_string(kMinResultBytes) + " and " +
                       std::to_string(kMaxResultBytes));
  c->nats.urls = nats::splitUrls(raw.natsUrls);
  for (auto& p : nats::validate(c->nats))
    problems.push_back(p);
  return problems;
}

}  // namespace osmosis::sidecar
