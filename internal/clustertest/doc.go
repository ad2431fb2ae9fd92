// Package clustertest holds the process-level cluster test that
// .ci/cluster-test runs (make cluster-test): a real nats-server with
// JetStream, one `tickerd sim` as the shared upstream behind counting
// proxies, and three tickerd processes in cluster mode, with websocket
// clients on every instance. Its tests are built only with the build tag
// "cluster":
//
//	go test -tags cluster -count=1 ./internal/clustertest -args -bin DIR
//
// where DIR holds the tickerd and nats-server binaries; without -bin the
// test builds both into a temporary directory first (nats-server from the
// module version pinned in go.mod). -failover-runs N (or
// CLUSTERTEST_FAILOVER_RUNS) sets how many times the kill-failover
// measurement runs; it logs p50, p99 and max.
//
// Everything listens on 127.0.0.1 and the test signals only the PIDs it
// started. The tests need unix signals (SIGKILL, SIGTERM, SIGSTOP): they
// are built only on unix; elsewhere the package is this comment alone.
package clustertest
