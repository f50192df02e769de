# Operator tests (unit, integration, e2e); included from tests/CMakeLists.txt.

add_executable(osmosis_kube_unit_tests
  unit/kube_api_test.cpp
  unit/kube_cache_test.cpp
  unit/kube_client_test.cpp
  unit/kube_config_test.cpp
  unit/kube_controller_test.cpp
  unit/kube_leader_test.cpp
  unit/kube_queue_test.cpp
  unit/kube_watch_test.cpp)
target_link_libraries(osmosis_kube_unit_tests PRIVATE osmosis_kube osmosis_fakes osmosis_testing GTest::gtest_main osmosis_warnings)
gtest_discover_tests(osmosis_kube_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

add_executable(osmosis_operator_unit_tests unit/operator_flags_test.cpp)
target_link_libraries(osmosis_operator_unit_tests PRIVATE osmosis_operator_flags osmosis_operator_wiring GTest::gtest_main osmosis_warnings)
gtest_discover_tests(osmosis_operator_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

# Against a real kube-apiserver + etcd (hack/control-plane.sh); tools from OSMOSIS_TOOLS_BIN.
add_executable(osmosis_kube_integration_tests integration/kube_client_test.cpp)
target_link_libraries(osmosis_kube_integration_tests PRIVATE osmosis_kube osmosis_testing GTest::gtest_main osmosis_warnings)
# One ctest entry for the whole binary: its tests share one control plane (started once).
add_test(NAME kube_integration COMMAND osmosis_kube_integration_tests)
set_tests_properties(kube_integration PROPERTIES LABELS integration TIMEOUT 900
  ENVIRONMENT "OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN}")

add_executable(osmosis_operator_binary_tests integration/operator_binary_test.cpp)
target_link_libraries(osmosis_operator_binary_tests PRIVATE osmosis_testing GTest::gtest_main osmosis_warnings)
target_compile_definitions(osmosis_operator_binary_tests PRIVATE OSMOSIS_OPERATOR_BIN="$<TARGET_FILE:osmosis-operator>")
add_dependencies(osmosis_operator_binary_tests osmosis-operator)
add_test(NAME operator_binary COMMAND osmosis_operator_binary_tests)
set_tests_properties(operator_binary PROPERTIES LABELS integration TIMEOUT 600
  ENVIRONMENT "OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN}")

# The informer benchmark (hack/bench/informer.sh builds it in a release tree and runs it); not a test.
add_executable(osmosis_informer_bench ${PROJECT_SOURCE_DIR}/hack/bench/informer_bench.cpp)
target_link_libraries(osmosis_informer_bench PRIVATE osmosis_kube osmosis_testing osmosis_warnings)

# Channel provisioning: pure spec, subject, naming, drift, condition and Secret logic.
# In-memory stand-ins for NATS and the Kubernetes API behind the project's own interfaces
# (nats::Client, kube::Transport), for fast unit tests of the controllers' branches.
add_library(osmosis_fakes STATIC fakes/fake_api_server.cpp fakes/fake_nats.cpp)
target_include_directories(osmosis_fakes PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(osmosis_fakes PUBLIC osmosis_kube osmosis_common PRIVATE osmosis_warnings)

add_executable(osmosis_channel_unit_tests
  unit/channel_crd_test.cpp
  unit/channel_drift_test.cpp
  unit/channel_injection_test.cpp
  unit/channel_reconciler_test.cpp
  unit/channel_results_stream_test.cpp
  unit/channel_spec_test.cpp
  unit/channel_subjects_test.cpp)
target_link_libraries(osmosis_channel_unit_tests PRIVATE osmosis_channel osmosis_fakes yaml-cpp GTest::gtest_main osmosis_warnings)
target_compile_definitions(osmosis_channel_unit_tests PRIVATE OSMOSIS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
gtest_discover_tests(osmosis_channel_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

# Channel provisioning end to end: the operator binary, a real kube-apiserver and a real
# nats-server of each flavour (Debian's 2.9, the current release), checked with kubectl and
# the nats CLI. One ctest entry per flavour: the tests of a binary share one control plane.
add_library(osmosis_operator_testing STATIC fixtures/operator_fixture.cpp)
target_link_libraries(osmosis_operator_testing PUBLIC osmosis_testing GTest::gtest PRIVATE osmosis_warnings)
target_compile_definitions(osmosis_operator_testing PRIVATE OSMOSIS_OPERATOR_BIN="$<TARGET_FILE:osmosis-operator>")
add_dependencies(osmosis_operator_testing osmosis-operator)

add_executable(osmosis_channel_integration_tests integration/channel_test.cpp
  integration/operator_hostile_test.cpp)
target_link_libraries(osmosis_channel_integration_tests PRIVATE osmosis_operator_testing osmosis_common GTest::gtest_main osmosis_warnings)
foreach(entry IN LISTS OSMOSIS_NATS_SERVERS)
  string(REPLACE "=" ";" parts "${entry}")
  list(GET parts 0 flavour)
  list(GET parts 1 binary)
  add_test(NAME channel_integration[nats-${flavour}] COMMAND osmosis_channel_integration_tests)
  set_tests_properties(channel_integration[nats-${flavour}] PROPERTIES LABELS integration TIMEOUT 900
    ENVIRONMENT "OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN};OSMOSIS_NATS_SERVER=${binary}")
endforeach()

# A Channel on a three-node NATS cluster losing leaders: the newest server only.
add_executable(osmosis_channel_nats_cluster_tests integration/channel_nats_cluster_test.cpp)
target_link_libraries(osmosis_channel_nats_cluster_tests PRIVATE osmosis_operator_testing GTest::gtest_main osmosis_warnings)
list(GET OSMOSIS_NATS_SERVERS -1 newest)
string(REPLACE "=" ";" parts "${newest}")
list(GET parts 0 flavour)
list(GET parts 1 binary)
add_test(NAME channel_nats_cluster[nats-${flavour}] COMMAND osmosis_channel_nats_cluster_tests)
set_tests_properties(channel_nats_cluster[nats-${flavour}] PROPERTIES LABELS integration TIMEOUT 600
  ENVIRONMENT "OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN};OSMOSIS_NATS_SERVER=${binary}")

# The Channel provisioning benchmark (hack/bench/channels.sh builds it in a release tree); not a test.
add_executable(osmosis_channels_bench ${PROJECT_SOURCE_DIR}/hack/bench/channels_bench.cpp)
target_link_libraries(osmosis_channels_bench PRIVATE osmosis_kube osmosis_testing osmosis_warnings)

# Security end to end: mutual TLS, users and NATS permissions confining a sidecar to its
# Channel, and a scan for secret values (the newest server only).
add_executable(osmosis_nats_security_tests integration/nats_security_test.cpp)
target_link_libraries(osmosis_nats_security_tests PRIVATE osmosis_operator_testing
  osmosis_sidecar_testing GTest::gtest_main osmosis_warnings)
target_compile_definitions(osmosis_nats_security_tests PRIVATE
  OSMOSIS_OPERATOR_BIN="$<TARGET_FILE:osmosis-operator>"
  OSMOSIS_SIDECAR_BIN="$<TARGET_FILE:osmosis-sidecar>"
  OSMOSIS_TEST_APP_BIN="$<TARGET_FILE:osmosis-test-app>")
add_dependencies(osmosis_nats_security_tests osmosis-sidecar osmosis-test-app)
add_test(NAME nats_security[nats-${flavour}] COMMAND osmosis_nats_security_tests)
set_tests_properties(nats_security[nats-${flavour}] PROPERTIES LABELS integration TIMEOUT 600
  ENVIRONMENT "OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN};OSMOSIS_NATS_SERVER=${binary}")

# The operator load benchmark (hack/bench/load.sh builds it in a release tree); not a test.
add_executable(osmosis_load_bench ${PROJECT_SOURCE_DIR}/hack/bench/load_bench.cpp)
target_link_libraries(osmosis_load_bench PRIVATE osmosis_kube osmosis_api osmosis_testing osmosis_warnings)
