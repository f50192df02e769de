# Tests on a real single-node cluster (hack/cluster.sh); included from tests/CMakeLists.txt.
# Label `cluster`. One cluster serves them all: cluster_up (FIXTURES_SETUP) builds the images
# (hack/images.sh) and starts it with a watchdog on ctest, cluster_down (FIXTURES_CLEANUP)
# stops it and checks that nothing is left, also when a test failed. RESOURCE_LOCK keeps
# them one at a time (they share the node, and the e2e measures start-up times).
set(OSMOSIS_CLUSTER_ENV "OSMOSIS_TOOLS_BIN=${OSMOSIS_TOOLS_BIN}")

add_test(NAME cluster_up COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/setup.sh)
set_tests_properties(cluster_up PROPERTIES LABELS cluster FIXTURES_SETUP cluster
  RESOURCE_LOCK cluster TIMEOUT 1800 ENVIRONMENT "${OSMOSIS_CLUSTER_ENV}")

add_test(NAME cluster_down COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/teardown.sh)
set_tests_properties(cluster_down PROPERTIES LABELS cluster FIXTURES_CLEANUP cluster
  RESOURCE_LOCK cluster TIMEOUT 300 ENVIRONMENT "${OSMOSIS_CLUSTER_ENV}")

add_test(NAME cluster_node COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/node_test.sh)
set_tests_properties(cluster_node PROPERTIES LABELS cluster FIXTURES_REQUIRED cluster
  RESOURCE_LOCK cluster TIMEOUT 600 ENVIRONMENT "${OSMOSIS_CLUSTER_ENV}")

# The autoscaling e2e again, on the real node (the pod-runner e2e stays the fast path).
add_test(NAME cluster_autoscale_e2e COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/autoscale_test.sh)
set_tests_properties(cluster_autoscale_e2e PROPERTIES LABELS cluster FIXTURES_REQUIRED cluster
  RESOURCE_LOCK cluster TIMEOUT 900
  ENVIRONMENT "${OSMOSIS_CLUSTER_ENV};OSMOSIS_OPERATOR_BIN=$<TARGET_FILE:osmosis-operator>")

# The Helm chart on the real node: install into a restricted namespace, scaling with only the
# chart's RBAC, upgrade, helm test, leader failover, uninstall.
add_test(NAME cluster_helm COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/helm_test.sh)
set_tests_properties(cluster_helm PROPERTIES LABELS cluster FIXTURES_REQUIRED cluster
  RESOURCE_LOCK cluster TIMEOUT 900 ENVIRONMENT "${OSMOSIS_CLUSTER_ENV}")

# Idle pods go first (issue 13): the chart with operator.podDeletionCost, 4 worker pods, 3 busy
# with a 60 s message each and 1 idle; maxReplicas 4 -> 3: the operator sets the pods'
# pod-deletion-cost, the real ReplicaSet controller deletes the idle pod, nothing is redelivered.
add_test(NAME cluster_deletion_cost COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/deletion_cost_test.sh)
set_tests_properties(cluster_deletion_cost PROPERTIES LABELS cluster FIXTURES_REQUIRED cluster
  RESOURCE_LOCK cluster TIMEOUT 600 ENVIRONMENT "${OSMOSIS_CLUSTER_ENV}")

# NATS as a 3-replica StatefulSet: the stream leader's pod force-deleted mid-run; a Channel
# with stream.replicas 3 loses nothing, recreates nothing and its status stays right.
add_test(NAME cluster_nats_failover COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/nats_failover_test.sh)
set_tests_properties(cluster_nats_failover PROPERTIES LABELS cluster FIXTURES_REQUIRED cluster
  RESOURCE_LOCK cluster TIMEOUT 900
  ENVIRONMENT "${OSMOSIS_CLUSTER_ENV};OSMOSIS_OPERATOR_BIN=$<TARGET_FILE:osmosis-operator>")

# The gateway installed by the chart (gateway.enabled): a POST through its Service answered 202,
# the worker scaled from zero by the operator, the result read back over SSE.
add_test(NAME cluster_gateway COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cluster/gateway_test.sh)
set_tests_properties(cluster_gateway PROPERTIES LABELS cluster FIXTURES_REQUIRED cluster
  RESOURCE_LOCK cluster TIMEOUT 600 ENVIRONMENT "${OSMOSIS_CLUSTER_ENV}")
