#pragma once

// The contract between the operator and the sidecar, in one place: what the operator sets in an
// injected sidecar (environment variables) and what the sidecar sends the app (headers) and
// the operator (reports: common/report/report.hpp, on report::subjectFor's subject). Subject
// rules both follow: common/nats/subject.hpp. Each name here is read by one side and written
// by the other; neither spells it itself.

namespace osmosis::contract {

// Environment variables (each also a flag of the sidecar: `osmosis-sidecar --help`).
inline constexpr const char* kEnvMode = "OSMOSIS_MODE";
inline constexpr const char* kEnvNamespace = "OSMOSIS_NAMESPACE";
inline constexpr const char* kEnvChannel = "OSMOSIS_CHANNEL";
inline constexpr const char* kEnvPodName = "OSMOSIS_POD_NAME";
inline constexpr const char* kEnvStream = "OSMOSIS_STREAM";
inline constexpr const char* kEnvConsumer = "OSMOSIS_CONSUMER";
inline constexpr const char* kEnvAppPort = "OSMOSIS_APP_PORT";
inline constexpr const char* kEnvAppPath = "OSMOSIS_APP_PATH";
inline constexpr const char* kEnvAckWait = "OSMOSIS_ACK_WAIT";
inline constexpr const char* kEnvListen = "OSMOSIS_LISTEN";
inline constexpr const char* kEnvDeadLetterSubject = "OSMOSIS_DEAD_LETTER_SUBJECT";
inline constexpr const char* kEnvReportSubjectPrefix = "OSMOSIS_REPORT_SUBJECT_PREFIX";
inline constexpr const char* kEnvNatsUrl = "OSMOSIS_NATS_URL";
inline constexpr const char* kEnvNatsToken = "OSMOSIS_NATS_TOKEN";
inline constexpr const char* kEnvNatsUser = "OSMOSIS_NATS_USER";
inline constexpr const char* kEnvNatsPassword = "OSMOSIS_NATS_PASSWORD";
inline constexpr const char* kEnvNatsCreds = "OSMOSIS_NATS_CREDS";
inline constexpr const char* kEnvNatsTlsCa = "OSMOSIS_NATS_TLS_CA";
inline constexpr const char* kEnvNatsTlsCert = "OSMOSIS_NATS_TLS_CERT";
inline constexpr const char* kEnvNatsTlsKey = "OSMOSIS_NATS_TLS_KEY";

// HTTP headers of every request the sidecar makes to the app (docs/sidecar.md), and the
// metadata headers of a dead-letter copy.
inline constexpr const char* kHeaderMessageId = "Osmosis-Message-Id";
inline constexpr const char* kHeaderSubject = "Osmosis-Subject";
inline constexpr const char* kHeaderDeliveryCount = "Osmosis-Delivery-Count";
inline constexpr const char* kHeaderChannel = "Osmosis-Channel";
inline constexpr const char* kHeaderNamespace = "Osmosis-Namespace";
// A NATS header whose name would break HTTP framing, or is ours, arrives under this prefix.
inline constexpr const char* kHeaderNatsPrefix = "Osmosis-Nats-";

}  // namespace osmosis::contract
