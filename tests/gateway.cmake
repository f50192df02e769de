# Gateway tests (unit, integration); included from tests/CMakeLists.txt.

# Unit: pure logic, no servers.
add_executable(osmosis_gateway_unit_tests unit/gateway_pure_test.cpp)
target_link_libraries(osmosis_gateway_unit_tests PRIVATE osmosis_gateway GTest::gtest_main
  osmosis_warnings)
gtest_discover_tests(osmosis_gateway_unit_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
