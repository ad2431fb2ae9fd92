//go:build cluster && unix

package clustertest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

var (
	binDir = flag.String("bin", "", "directory holding the tickerd and nats-server binaries (empty: build them)")
	// failoverRuns is how many times TestFailoverTime kills the leader.
	// keep leaves each test's directory (configs, logs, JetStream store).
	keep = flag.Bool("keep", false, "keep each test's directory with the processes' logs")
	// logLevel is the log.level of every tickerd.
	logLevel     = flag.String("log-level", "info", "log.level of the tickerd instances")
	failoverRuns = flag.Int("failover-runs", envInt("CLUSTERTEST_FAILOVER_RUNS", 3), "kill-failover measurements (env CLUSTERTEST_FAILOVER_RUNS)")
)

// Paths of the binaries under test, set by TestMain.
var (
	tickerdBin string
	natsBin    string
)

func TestMain(m *testing.M) {
	flag.Parse()
	code, err := setupAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustertest:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// setupAndRun finds or builds the binaries, then runs the tests with
// goleak's check.
func setupAndRun(m *testing.M) (int, error) {
	dir := *binDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "clustertest-bin-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(tmp)
		if err := buildBinaries(tmp); err != nil {
			return 0, err
		}
		dir = tmp
	}
	tickerdBin = filepath.Join(dir, "tickerd")
	natsBin = filepath.Join(dir, "nats-server")
	for _, p := range []string{tickerdBin, natsBin} {
		if _, err := os.Stat(p); err != nil {
			return 0, fmt.Errorf("binary: %w", err)
		}
	}
	code := m.Run()
	// goleak.VerifyTestMain would exit before the deferred removal of a
	// built binary directory; Find is the same check.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code, nil
}

// buildBinaries builds tickerd and nats-server into dir with the go
// command on PATH (else /usr/local/go/bin/go).
func buildBinaries(dir string) error {
	goCmd := "go"
	if _, err := exec.LookPath(goCmd); err != nil {
		goCmd = "/usr/local/go/bin/go"
	}
	for _, b := range []struct{ out, pkg string }{
		{"tickerd", "github.com/tickerd/tickerd/cmd/tickerd"},
		{"nats-server", "github.com/nats-io/nats-server/v2"},
	} {
		cmd := exec.Command(goCmd, "build", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b.pkg, err)
		}
	}
	return nil
}

// envInt returns the integer in environment variable key, or def when it
// is unset or not an integer.
func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return n
	}
	return def
}
