package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// These tests run the real binary for what a user sees on first contact:
// help, version, usage mistakes, config errors, built-in defaults, the log
// format and level.

// cleanEnv is the test process's environment without TICKERD_ variables,
// plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TICKERD_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runBinary runs the binary to completion in dir with env and returns what
// it printed and its exit status.
func runBinary(t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // deadlock detector
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Dir, cmd.Env = dir, env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run tickerd %q: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func TestBinaryHelpAndVersion(t *testing.T) {
	service := []string{ // what the top-level help must name
		"tickerd sim", "tickerd healthcheck", "tickerd version", "tickerd help",
		"-config", "-check-config", "-config-poll", "-listen", "-version",
		"TICKERD_CONFIG", "TICKERD_LISTEN", "built-in defaults", "SIGHUP", "Exit status",
	}
	tests := []struct {
		name string
		args []string
		want []string // substrings of stdout
	}{
		{"dash_h", []string{"-h"}, service},
		{"dash_help", []string{"-help"}, service},
		{"help", []string{"help"}, service},
		{"h_after_flags", []string{"-config-poll", "1s", "-h"}, service},
		{"help_sim", []string{"help", "sim"}, []string{"tickerd sim", "-listen", "-seed", "-latency", "-error-rate", "-close-every"}},
		{"sim_h", []string{"sim", "-h"}, []string{"tickerd sim", "-listen", "-seed"}},
		{"help_healthcheck", []string{"help", "healthcheck"}, []string{"tickerd healthcheck", "-url", "http://127.0.0.1:8080/healthz"}},
		{"healthcheck_h", []string{"healthcheck", "-h"}, []string{"-url"}},
		{"help_version", []string{"help", "version"}, []string{"tickerd version"}},
		{"version", []string{"version"}, []string{"tickerd " + version + "\n"}},
		{"dash_version", []string{"-version"}, []string{"tickerd " + version + "\n"}},
	}
	dir := t.TempDir() // no config.yaml: the healthcheck's default port is 8080
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runBinary(t, dir, cleanEnv(), tc.args...)
			if code != 0 || stderr != "" {
				t.Errorf("tickerd %q: exit %d, stderr %q, want exit 0 and no stderr", tc.args, code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("tickerd %q stdout = %q, want it to contain %q", tc.args, stdout, w)
				}
			}
		})
	}
}

func TestBinaryUsageMistakes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the error line, after "tickerd: "
	}{
		{"unknown_flag", []string{"-bogus"}, "usage: flag provided but not defined: -bogus"},
		{"flag_missing_value", []string{"-listen"}, "usage: flag needs an argument: -listen"},
		{"bad_duration", []string{"-config-poll", "soon"}, `usage: invalid value "soon" for flag -config-poll`},
		{"unexpected_argument", []string{"serve"}, `usage: unexpected argument "serve"`},
		{"help_unknown_command", []string{"help", "serve"}, `usage: no command "serve"`},
		{"version_argument", []string{"version", "x"}, `usage: version takes no arguments, got "x"`},
		{"sim_unknown_flag", []string{"sim", "-bogus"}, "usage: sim: flag provided but not defined: -bogus"},
		{"healthcheck_argument", []string{"healthcheck", "now"}, `usage: healthcheck: unexpected argument "now"`},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runBinary(t, dir, cleanEnv(), tc.args...)
			if code != 2 || stdout != "" {
				t.Errorf("tickerd %q: exit %d, stdout %q, want exit 2 and no stdout", tc.args, code, stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "tickerd: "+tc.want) || lines[1] != "Run 'tickerd help' for usage." {
				t.Errorf("tickerd %q stderr = %q, want %q and the pointer to help, once", tc.args, stderr, "tickerd: "+tc.want)
			}
		})
	}
}

func TestBinaryConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" for no file
		env     bool   // name the file with TICKERD_CONFIG, not -config
		want    string // stderr after "tickerd: "; FILE stands for the path
	}{
		{"unclosed_flow_sequence", "listen: 127.0.0.1:0\nsymbols: [AAPL\nschedule: \"@every 1s\"\n", false, "FILE:2: yaml: did not find expected ',' or ']'"},
		{"unclosed_flow_mapping", "symbols: [AAPL]\nsource: {kind: sim\n", false, "FILE:2: yaml: did not find expected ',' or '}'"},
		{"bad_indentation", "source:\n  kind: sim\n   url: x\n", false, "FILE:3: yaml: mapping values are not allowed in this context"},
		{"key_after_scalar", "listen: 127.0.0.1:0\n  schedule: x\n", false, "FILE:2: yaml: mapping values are not allowed in this context"},
		{"tab_indent", "symbols:\n\t- AAPL\n", false, "FILE:2: yaml: found character that cannot start any token"},
		{"unclosed_quote", "symbols:\n- AAPL\n- \"MSFT\n", false, "FILE:3: yaml: found unexpected end of stream"},
		{"syntax_via_env", "symbols: [AAPL\n", true, "FILE:1: yaml: did not find expected ',' or ']'"},
		{"invalid_value", "symbols: [AAPL]\nlog:\n  level: loud\n", false, "FILE:3: log.level: "},
		{"missing_flag_file", "", false, "config: open FILE: no such file or directory"},
		{"missing_env_file", "", true, "config: open FILE: no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "tickerd.yaml")
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env, args := cleanEnv("TICKERD_LISTEN=127.0.0.1:0"), []string{"-config", path}
			if tc.env {
				env, args = append(env, "TICKERD_CONFIG="+path), nil
			}
			stdout, stderr, code := runBinary(t, dir, env, args...)
			want := "tickerd: " + strings.ReplaceAll(tc.want, "FILE", path)
			if code != 1 || stdout != "" {
				t.Errorf("tickerd %q: exit %d, stdout %q, want exit 1 and no stdout", args, code, stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
				t.Errorf("tickerd %q stderr = %q, want one line starting %q", args, stderr, want)
			}
		})
	}
}

// TestBinaryBuiltInDefaults: with no config named and no ./config.yaml, the
// service runs on the built-in defaults and says so once; -listen wins
// over TICKERD_LISTEN.
func TestBinaryBuiltInDefaults(t *testing.T) {
	envAddr, flagAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(binary(t), "-listen", flagAddr, "-config-poll", "0")
	cmd.Dir, cmd.Env = t.TempDir(), cleanEnv("TICKERD_LISTEN="+envAddr)
	p := startCmd(t, cmd)
	if p.base != "http://"+flagAddr {
		t.Errorf("tickerd -listen %s listens on %s, want %s (not TICKERD_LISTEN's %s)", flagAddr, p.base, flagAddr, envAddr)
	}
	all := p.stderr()
	if n := strings.Count(all, "no config file: running with built-in defaults"); n != 1 {
		t.Errorf("stderr has %d built-in defaults lines, want 1:\n%s", n, all)
	}
	if !strings.Contains(all, "path=config.yaml") || !strings.Contains(all, "source=sim symbols=8") {
		t.Errorf("stderr = %s, want the default path named and the default sim source with 8 symbols", all)
	}
	p.waitReady(t)
	if got := len(waitSymbols(t, p, []string{"AAPL", "AMZN", "GOOG", "META", "MSFT", "NVDA", "OUTR", "TSLA"})); got != 8 {
		t.Errorf("GET /api/quotes lists %d symbols, want the 8 defaults", got)
	}
	stopProc(t, p)
}

// stopProc sends SIGTERM and waits for a clean exit.
func stopProc(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("tickerd exit = %v, want exit status 0; stderr:\n%s", err, p.stderr())
		}
	case <-time.After(30 * time.Second): // deadlock detector
		t.Fatalf("tickerd still running 30s after SIGTERM; stderr:\n%s", p.stderr())
	}
	p.done <- nil // for the cleanup's wait
}

// record is a JSON log line.
type record map[string]any

// waitRecord waits for a JSON record with msg and returns it; it fails on
// a stderr line that is not JSON.
func (p *proc) waitRecord(t *testing.T, msg string) record {
	t.Helper()
	timeout := time.After(20 * time.Second) // deadlock detector
	for {
		select {
		case line := <-p.logs:
			var r record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("stderr line %q is not JSON: %v", line, err)
			}
			if r["msg"] == msg {
				return r
			}
		case <-timeout:
			t.Fatalf("no log record %q; stderr:\n%s", msg, p.stderr())
		}
	}
}

// TestBinaryLogFormatAndLevel: log.format json makes every line a JSON
// record; log.level debug shows debug records; a reload says what changed
// and applies a new level at once.
func TestBinaryLogFormatAndLevel(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tickerd.yaml")
	write := func(level, symbols string) {
		t.Helper()
		cfg := "listen: \"127.0.0.1:0\"\nschedule: \"@every 1s\"\nsymbols: " + symbols + "\nlog:\n  format: json\n  level: " + level + "\n"
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("debug", "[AAPL, MSFT]")
	cmd := exec.Command(binary(t), "-config", path, "-config-poll", "0")
	cmd.Dir, cmd.Env = dir, cleanEnv()
	p := startCmd(t, cmd)
	p.waitReady(t)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.base, "http")+"/ws?symbols=AAPL", nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.CloseNow()
	if r := p.waitRecord(t, "websocket client connected"); r["level"] != "DEBUG" {
		t.Errorf("websocket client connected record = %v, want level DEBUG", r)
	}

	// Symbols and level change; the reload says what changed.
	write("warn", "[AAPL, NVDA, TSLA]")
	p.cmd.Process.Signal(syscall.SIGHUP)
	r := p.waitRecord(t, "config reloaded")
	for key, want := range map[string]string{"added": "[NVDA TSLA]", "removed": "[MSFT]", "symbols": "3"} {
		if got := fmtJSON(r[key]); got != want {
			t.Errorf("config reloaded record %s = %s, want %s", key, got, want)
		}
	}
	r = p.waitRecord(t, "log level changed")
	if r["level"] != "WARN" || r["old_level"] != "DEBUG" {
		t.Errorf("log level changed record = %v, want level WARN from DEBUG", r)
	}

	// From now on info records are not written: a rejected reload shows
	// its error with no "SIGHUP: reloading config" info before it.
	if err := os.WriteFile(path, []byte("symbols: [AAPL\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	timeout := time.After(20 * time.Second) // deadlock detector
	for done := false; !done; {
		select {
		case line := <-p.logs:
			var r record
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("stderr line %q is not JSON: %v", line, err)
			}
			switch {
			case r["level"] == "INFO" || r["level"] == "DEBUG":
				t.Errorf("record %s written at level warn", line)
			case r["msg"] == "config reload rejected; keeping the running config":
				if want := filepath.Base(path) + ":1: yaml:"; !strings.Contains(fmtJSON(r["error"]), want) {
					t.Errorf("rejection record = %v, want an error naming %q", r, want)
				}
				done = true
			}
		case <-timeout:
			t.Fatalf("no rejection record; stderr:\n%s", p.stderr())
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	stopProc(t, p)
}

// fmtJSON formats a decoded JSON value compactly: lists as [A B], numbers
// as integers when whole.
func fmtJSON(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = fmtJSON(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestBinaryHealthcheckFindsListen: outside the repository, with no config
// file, healthcheck finds a service on built-in defaults through
// TICKERD_LISTEN, and fails with one error line once it is gone.
func TestBinaryHealthcheckFindsListen(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), "-config-poll", "0")
	cmd.Dir, cmd.Env = t.TempDir(), cleanEnv("TICKERD_LISTEN="+addr)
	p := startCmd(t, cmd)
	p.waitReady(t)
	if _, stderr, code := runBinary(t, cmd.Dir, cmd.Env, "healthcheck"); code != 0 {
		t.Errorf("tickerd healthcheck with TICKERD_LISTEN=%s: exit %d (%s), want 0", addr, code, stderr)
	}
	stopProc(t, p)
	if _, stderr, code := runBinary(t, cmd.Dir, cmd.Env, "healthcheck"); code != 1 || !strings.HasPrefix(stderr, "tickerd: healthcheck: ") {
		t.Errorf("tickerd healthcheck after stop: exit %d, stderr %q, want exit 1 and one healthcheck error", code, stderr)
	}
}
