// Package clustertest holds the process-level cluster test of issue 9
// that .ci/cluster-test runs (make cluster-test): a real nats-server with
// JetStream (file storage), one `tickerd sim` as the shared upstream
// behind a counting proxy per instance (every upstream request is
// recorded with its instance, connection and time), and tickerd processes
// in cluster mode, with websocket clients on every instance recording each
// quote's (symbol, seq). Each test starts its own processes and checks one
// row of the failure table:
//
//   - TestOneCollector: only the leader opens an upstream connection; each
//     pulse asks for each symbol once; every instance reports the same
//     leader, term and epoch.
//   - TestLeaderKilledThenTerminated: SIGKILL of the leader, then SIGTERM
//     of its successor (handover within 1s, exit status 0).
//   - TestNATSRestart: nats-server restarted (at once, and down past the
//     lease); clients stay connected and are not reset.
//   - TestLeaderNATSCut: the leader's NATS connection cut or black-holed
//     through a fault proxy.
//   - TestFrozenLeader: SIGSTOP past the lease, then SIGCONT.
//   - TestUpstreamDown: every instance's clients see the same stale status.
//   - TestNATSUnreachableAtStart: /readyz 503 with a reason, then ready.
//   - TestResumeOnAnotherInstance: since on another instance.
//   - TestReloadOnLeader: a SIGHUP on the leader removes and adds a symbol
//     for the clients of every instance.
//   - TestFailoverTime: SIGKILL failover time over -failover-runs runs,
//     logged as p50, p99 and max.
//
// Throughout: no client sees a seq repeat or go back, one (symbol, seq)
// is one snapshot on every instance, and the upstream requests in time
// order change instance only when the test changed the leader (two
// collectors at once would alternate).
//
// The tests are built only with the build tag "cluster" on unix (they
// send SIGKILL, SIGTERM and SIGSTOP):
//
//	go test -tags cluster -count=1 ./internal/clustertest -args -bin DIR
//
// where DIR holds the tickerd and nats-server binaries; without -bin the
// test builds both into a temporary directory first (nats-server from the
// module version pinned in go.mod). Flags: -failover-runs N (or
// CLUSTERTEST_FAILOVER_RUNS), -keep to leave each test's logs, -log-level
// for the instances. Everything listens on 127.0.0.1 and the test signals
// only the PIDs it started; every process is killed when its test ends.
package clustertest
