package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tickerd/tickerd/internal/config"
)

// testTimeout bounds every blocking step, so that a broken command fails
// the test instead of hanging it. It never orders events.
const testTimeout = 10 * time.Second

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes a file named name with content in a temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("WriteFile(%q) = %v", path, err)
	}
	return path
}

// freeAddr returns a loopback address nobody listens on: a port the system
// gave out and that was closed again.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// started is run() running in the background.
type started struct {
	cancel context.CancelFunc
	done   chan error
	stderr *bytes.Buffer // written by run until done delivers
}

// startRun runs run(args) until stop; the cleanup stops it if the test did
// not.
func startRun(t *testing.T, args []string, getenv func(string) string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{cancel: cancel, done: make(chan error, 1), stderr: new(bytes.Buffer)}
	// Exits when run returns, after cancel.
	go func() { s.done <- run(ctx, args, getenv, new(bytes.Buffer), s.stderr) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels run's context and returns run's result.
func (s *started) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		return err
	case <-time.After(testTimeout):
		t.Fatalf("run() still running %v after its context was cancelled", testTimeout)
		return nil
	}
}

// waitServing GETs url until it answers 200 (the server is up), for at most
// testTimeout, and returns the body. Polling is the readiness wait here:
// run() does not say when it listens.
func waitServing(t *testing.T, url string, done <-chan error) []byte {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{}, Timeout: testTimeout}
	defer client.CloseIdleConnections()
	deadline := time.After(testTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return body.Bytes()
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run() = %v before %s answered", err, url)
		case <-deadline:
			t.Fatalf("GET %s: no 200 in %v (last error %v)", url, testTimeout, err)
		case <-tick.C:
		}
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-version"}, env(nil), &stdout, &stderr); err != nil {
		t.Fatalf("run(-version) = %v, want nil", err)
	}
	if got, want := stdout.String(), "tickerd "+version+"\n"; got != want {
		t.Errorf("run(-version) printed %q, want %q", got, want)
	}
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		name     string
		content  string
		wantLine int
		wantKey  string
		wantErr  error
	}{
		{"valid", "listen: 127.0.0.1:9000\nsymbols: [AAPL, MSFT]\n", 0, "", nil},
		{"bad_duration", "listen: 127.0.0.1:9000\nsource:\n  kind: sim\n  timeout: -1s\n", 4, "source.timeout", config.ErrInvalidValue},
		{"bad_symbol", "symbols:\n  - AAPL\n  - A B\n", 3, "symbols[1]", config.ErrInvalidSymbol},
		{"unknown_key", "listen: 127.0.0.1:9000\nlisten_port: 9000\n", 2, "listen_port", config.ErrUnknownKey},
		{"bad_schedule", "schedule: every second\n", 1, "schedule", config.ErrInvalidSchedule},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "config.yaml", tc.content)
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), []string{"-check-config", path}, env(nil), &stdout, &stderr)
			if tc.wantErr == nil {
				if err != nil || stdout.String() != path+": ok\n" {
					t.Errorf("run(-check-config %s) = %v and printed %q, want nil and %q", path, err, stdout.String(), path+": ok\n")
				}
				return
			}
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("run(-check-config %s) = %v, want a *config.Error", path, err)
			}
			if cerr.File != path || cerr.Line != tc.wantLine || cerr.Key != tc.wantKey || !errors.Is(err, tc.wantErr) {
				t.Errorf("run(-check-config) = %#v, want file %s, line %d, key %s, wrapping %v", cerr, path, tc.wantLine, tc.wantKey, tc.wantErr)
			}
			if prefix := path + ":" + strconv.Itoa(tc.wantLine) + ": " + tc.wantKey + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("run(-check-config).Error() = %q, want it to start with %q", err.Error(), prefix)
			}
			if code := exitCode(err); code != 1 {
				t.Errorf("exitCode(%v) = %d, want 1", err, code)
			}
			if stdout.Len() != 0 {
				t.Errorf("run(-check-config) printed %q on a bad file, want nothing", stdout.String())
			}
		})
	}

	missing := filepath.Join(t.TempDir(), "missing.yaml")
	err := run(t.Context(), []string{"-check-config", missing}, env(nil), new(bytes.Buffer), new(bytes.Buffer))
	if !errors.Is(err, fs.ErrNotExist) || exitCode(err) != 1 {
		t.Errorf("run(-check-config %s) = %v (exit %d), want fs.ErrNotExist (exit 1)", missing, err, exitCode(err))
	}
}

func TestExitCode(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "symbols: []\n")
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"unknown_flag", []string{"-bogus"}, 2},
		{"unexpected_argument", []string{"extra"}, 2},
		{"flag_missing_value", []string{"-config"}, 2},
		{"sim_unknown_flag", []string{"sim", "-bogus"}, 2},
		{"healthcheck_unknown_flag", []string{"healthcheck", "-bogus"}, 2},
		{"bad_config", []string{"-config", bad}, 1},
		{"missing_config", []string{"-config", filepath.Join(t.TempDir(), "none.yaml")}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tc.args, env(nil), &stdout, &stderr)
			if err == nil {
				t.Fatalf("run(%q) = nil, want an error", tc.args)
			}
			if got := exitCode(err); got != tc.want {
				t.Errorf("exitCode(run(%q) = %v) = %d, want %d", tc.args, err, got, tc.want)
			}
			if tc.want == 2 && !errors.Is(err, errUsage) && !errors.Is(err, flag.ErrHelp) {
				t.Errorf("run(%q) = %v, want errUsage", tc.args, err)
			}
		})
	}
}

func TestListenOverride(t *testing.T) {
	addr := freeAddr(t)
	// The file's listen would pick a random port: only the override makes
	// the service answer on addr.
	path := writeFile(t, "tickerd.yaml", "listen: 127.0.0.1:0\nschedule: \"@every 1h\"\nsymbols: [AAPL]\n")
	getenv := env(map[string]string{"TICKERD_CONFIG": path, "TICKERD_LISTEN": addr})
	s := startRun(t, nil, getenv)

	body := waitServing(t, "http://"+addr+"/healthz", s.done)
	var health map[string]string
	if err := json.Unmarshal(body, &health); err != nil || health["status"] != "ok" {
		t.Errorf("GET /healthz = %s, want {\"status\":\"ok\"}", body)
	}
	// The healthcheck subcommand finds the instance through TICKERD_LISTEN.
	if err := run(t.Context(), []string{"healthcheck"}, getenv, new(bytes.Buffer), new(bytes.Buffer)); err != nil {
		t.Errorf("run(healthcheck) with TICKERD_LISTEN=%s = %v, want nil", addr, err)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("run() = %v, want nil after cancel; stderr:\n%s", err, s.stderr)
	}
	err := run(t.Context(), []string{"healthcheck"}, getenv, new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || exitCode(err) != 1 {
		t.Errorf("run(healthcheck) after stop = %v (exit %d), want an error (exit 1)", err, exitCode(err))
	}
}

// TestEnvOverrideRejected: a bad cluster variable stops the start with an
// error naming it, before anything listens.
func TestEnvOverrideRejected(t *testing.T) {
	path := writeFile(t, "tickerd.yaml", "listen: 127.0.0.1:0\nsymbols: [AAPL]\n")
	for _, tc := range []struct{ name, key, value string }{
		{"nats_url", "TICKERD_NATS_URL", "localhost:4222"},
		{"instance_id", "TICKERD_INSTANCE_ID", "a b"},
		{"listen", "TICKERD_LISTEN", "nowhere"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := env(map[string]string{"TICKERD_CONFIG": path, "TICKERD_NATS_URL": "nats://127.0.0.1:4222", tc.key: tc.value})
			err := run(t.Context(), nil, getenv, new(bytes.Buffer), new(bytes.Buffer))
			if err == nil || !strings.Contains(err.Error(), tc.key) || exitCode(err) != 1 {
				t.Errorf("run() with %s=%q = %v, want an error naming %s (exit 1)", tc.key, tc.value, err, tc.key)
			}
		})
	}
}

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	tests := []struct {
		name    string
		path    string
		wantErr bool
	}{
		{"ok_200", "/healthz", false},
		{"unavailable_503", "/down", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"healthcheck", "-url", srv.URL + tc.path}
			err := run(t.Context(), args, env(nil), new(bytes.Buffer), new(bytes.Buffer))
			if (err != nil) != tc.wantErr {
				t.Errorf("run(%q) = %v, want error %v", args, err, tc.wantErr)
			}
			if tc.wantErr && exitCode(err) != 1 {
				t.Errorf("exitCode(%v) = %d, want 1", err, exitCode(err))
			}
		})
	}
}

func TestSimSubcommand(t *testing.T) {
	addr := freeAddr(t)
	s := startRun(t, []string{"sim", "-listen", addr, "-seed", "1"}, env(nil))
	body := waitServing(t, "http://"+addr+"/api/quote/AAPL/info", s.done)
	var doc struct {
		Data struct {
			Symbol string `json:"symbol"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Data.Symbol != "AAPL" {
		t.Errorf("GET /api/quote/AAPL/info = %s, want AAPL's quote", body)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("run(sim) = %v, want nil after cancel", err)
	}
}

func TestListenAddressInUse(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	defer ln.Close()
	path := writeFile(t, "tickerd.yaml", "listen: "+ln.Addr().String()+"\nsymbols: [AAPL]\n")
	err = run(t.Context(), []string{"-config", path}, env(nil), new(bytes.Buffer), new(bytes.Buffer))
	if err == nil || exitCode(err) != 1 {
		t.Errorf("run() on an address in use = %v (exit %d), want an error (exit 1)", err, exitCode(err))
	}
}

// TestHealthcheckPortFromConfig: without TICKERD_LISTEN, the healthcheck
// takes the port from the config file TICKERD_CONFIG names, so a mounted
// config with another port keeps the container's HEALTHCHECK right.
func TestHealthcheckPortFromConfig(t *testing.T) {
	addr := freeAddr(t)
	path := writeFile(t, "tickerd.yaml", "listen: "+addr+"\nschedule: \"@every 1h\"\nsymbols: [AAPL]\n")
	getenv := env(map[string]string{"TICKERD_CONFIG": path})
	s := startRun(t, nil, getenv)
	waitServing(t, "http://"+addr+"/healthz", s.done)
	if err := run(t.Context(), []string{"healthcheck"}, getenv, new(bytes.Buffer), new(bytes.Buffer)); err != nil {
		t.Errorf("run(healthcheck) with TICKERD_CONFIG listening on %s = %v, want nil", addr, err)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("run() = %v, want nil after cancel; stderr:\n%s", err, s.stderr)
	}
}
