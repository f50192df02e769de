# Operator tests (unit, integration, e2e); included from tests/CMakeLists.txt.

add_executable(osmosis_kube_unit_tests
  unit/kube_api_test.cpp
  unit/kube_client_test.cpp
  unit/kube_config_test.cpp
  unit/kube_controller_test.cpp
  unit/kube_queue_test.cpp
  unit/kube_watch_test.cpp)
target_link_libraries(osmosis_kube_unit_tests PRIVATE osmosis_kube osmosis_testing GTest::gtest_main osmosis_warnings)
gtest_discover_tests(osmosis_kube_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)

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
