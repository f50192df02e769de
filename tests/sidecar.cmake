# Sidecar tests (unit, integration, e2e); included from tests/CMakeLists.txt.

# The small real HTTP worker app the sidecar delivers to in tests and the benchmark.
add_executable(osmosis-test-app fixtures/test_app.cpp)
target_link_libraries(osmosis-test-app PRIVATE osmosis_common osmosis_warnings)

add_library(osmosis_sidecar_testing STATIC fixtures/sidecar_fixture.cpp)
target_link_libraries(osmosis_sidecar_testing PUBLIC osmosis_testing GTest::gtest
  PRIVATE osmosis_warnings)
target_compile_definitions(osmosis_sidecar_testing PRIVATE
  OSMOSIS_SIDECAR_BIN="$<TARGET_FILE:osmosis-sidecar>"
  OSMOSIS_TEST_APP_BIN="$<TARGET_FILE:osmosis-test-app>")
add_dependencies(osmosis_sidecar_testing osmosis-sidecar osmosis-test-app)

# Unit: pure logic, no servers.
add_executable(osmosis_sidecar_unit_tests
  unit/sidecar_config_test.cpp
  unit/sidecar_http_parse_test.cpp
  unit/sidecar_local_endpoint_test.cpp
  unit/sidecar_metrics_test.cpp
  unit/sidecar_outcome_test.cpp
  unit/sidecar_rate_test.cpp
  unit/sidecar_report_message_test.cpp
  unit/sidecar_results_events_test.cpp)
target_link_libraries(osmosis_sidecar_unit_tests PRIVATE osmosis_sidecar GTest::gtest_main
  osmosis_warnings)
gtest_discover_tests(osmosis_sidecar_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

# Integration: the HTTP pieces on loopback (no NATS), once.
add_executable(osmosis_sidecar_http_tests integration/sidecar_http_test.cpp)
target_link_libraries(osmosis_sidecar_http_tests PRIVATE osmosis_sidecar osmosis_testing
  GTest::gtest_main osmosis_warnings)
gtest_discover_tests(osmosis_sidecar_http_tests PROPERTIES LABELS integration DISCOVERY_TIMEOUT 60)

# Integration and e2e against real nats-servers (the same list as the NATS layer's tests).
add_executable(osmosis_sidecar_tests
  integration/sidecar_dispatch_test.cpp
  integration/sidecar_drain_test.cpp
  integration/sidecar_flags_test.cpp
  integration/sidecar_hostile_test.cpp
  integration/sidecar_hostile_app_test.cpp
  integration/sidecar_report_test.cpp
  integration/sidecar_results_test.cpp)
target_link_libraries(osmosis_sidecar_tests PRIVATE osmosis_sidecar_testing GTest::gtest_main
  osmosis_warnings)
target_compile_definitions(osmosis_sidecar_tests PRIVATE
  OSMOSIS_SIDECAR_BIN="$<TARGET_FILE:osmosis-sidecar>")

add_executable(osmosis_sidecar_e2e_tests e2e/sidecar_zero_loss_test.cpp)
target_link_libraries(osmosis_sidecar_e2e_tests PRIVATE osmosis_sidecar_testing GTest::gtest_main
  osmosis_warnings)

# Faults in a three-node cluster: against the newest server only (a cluster run is long).
add_executable(osmosis_nats_cluster_e2e_tests e2e/nats_cluster_fault_test.cpp)
target_link_libraries(osmosis_nats_cluster_e2e_tests PRIVATE osmosis_sidecar_testing
  GTest::gtest_main osmosis_warnings)
list(GET OSMOSIS_NATS_SERVERS -1 newest)
string(REPLACE "=" ";" parts "${newest}")
list(GET parts 0 flavour)
list(GET parts 1 binary)
gtest_discover_tests(osmosis_nats_cluster_e2e_tests
  TEST_SUFFIX "[nats-${flavour}]"
  PROPERTIES LABELS e2e ENVIRONMENT "OSMOSIS_NATS_SERVER=${binary}" TIMEOUT 900
  DISCOVERY_TIMEOUT 60)

foreach(entry IN LISTS OSMOSIS_NATS_SERVERS)
  string(REPLACE "=" ";" parts "${entry}")
  list(GET parts 0 flavour)
  list(GET parts 1 binary)
  gtest_discover_tests(osmosis_sidecar_tests
    TEST_SUFFIX "[nats-${flavour}]"
    PROPERTIES LABELS integration ENVIRONMENT "OSMOSIS_NATS_SERVER=${binary}"
    DISCOVERY_TIMEOUT 60)
  gtest_discover_tests(osmosis_sidecar_e2e_tests
    TEST_SUFFIX "[nats-${flavour}]"
    PROPERTIES LABELS e2e ENVIRONMENT "OSMOSIS_NATS_SERVER=${binary}" TIMEOUT 600
    DISCOVERY_TIMEOUT 60)
endforeach()

# The benchmark (hack/bench/sidecar.sh builds it in a release tree and runs it); not a test.
add_executable(osmosis_sidecar_bench ${PROJECT_SOURCE_DIR}/hack/bench/sidecar_bench.cpp)
target_link_libraries(osmosis_sidecar_bench PRIVATE osmosis_sidecar osmosis_testing osmosis_warnings)
