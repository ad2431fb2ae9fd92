package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestReloadJWKSRotation rotates the keys of a JWKS file under a live
// server, driving Reload by hand, and checks which tokens pass at each step.
func TestReloadJWKSRotation(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	jwksFile := writeFile(t, dir, "jwks.json", jwksDoc(jwkOf(k.ec, "old")))
	s := newTestServer(t, &Options{JWT: JWTOptions{JWKSFile: jwksFile}})
	later := time.Now().Add(time.Hour).Unix()
	oldToken := "Bearer " + mint(t, jwt.SigningMethodES256, k.ec, "old", jwt.MapClaims{"exp": later})
	newToken := "Bearer " + mint(t, jwt.SigningMethodEdDSA, k.ed, "new", jwt.MapClaims{"exp": later})

	type want struct{ old, new bool }
	steps := []struct {
		name    string
		change  func(t *testing.T)
		wantErr bool // Reload reports a problem
		want    want
	}{
		{name: "initial", want: want{old: true}},
		{name: "unchanged", want: want{old: true}},
		{name: "add_new", change: func(t *testing.T) { writeFile(t, dir, "jwks.json", jwksDoc(jwkOf(k.ec, "old"), jwkOf(k.ed, "new"))) }, want: want{old: true, new: true}},
		{name: "drop_old", change: func(t *testing.T) { writeFile(t, dir, "jwks.json", jwksDoc(jwkOf(k.ed, "new"))) }, want: want{new: true}},
		{name: "broken_keeps_keys", change: func(t *testing.T) { writeFile(t, dir, "jwks.json", []byte(`{"keys":[`)) }, wantErr: true, want: want{new: true}},
		{name: "broken_reported_once", want: want{new: true}},
		{name: "removed_keeps_keys", change: func(t *testing.T) {
			if err := os.Remove(jwksFile); err != nil {
				t.Fatal(err)
			}
		}, wantErr: true, want: want{new: true}},
		{name: "removed_reported_once", want: want{new: true}},
		{name: "restored", change: func(t *testing.T) { writeFile(t, dir, "jwks.json", jwksDoc(jwkOf(k.ec, "old"))) }, want: want{old: true}},
		{name: "replaced_by_rename", change: func(t *testing.T) {
			tmp := writeFile(t, dir, "jwks.json.tmp", jwksDoc(jwkOf(k.ed, "new"), jwkOf(k.ec, "old")))
			if err := os.Rename(tmp, jwksFile); err != nil {
				t.Fatal(err)
			}
		}, want: want{old: true, new: true}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if step.change != nil {
				step.change(t)
			}
			err := s.a.Reload()
			if step.wantErr != (err != nil) {
				t.Fatalf("Reload() = %v, want error: %v", err, step.wantErr)
			}
			if err != nil && (!errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), jwksFile)) {
				t.Errorf("Reload() = %v, want ErrKeyFile naming %s", err, jwksFile)
			}
			for _, c := range []struct {
				name, auth string
				want       bool
			}{{"old", oldToken, step.want.old}, {"new", newToken, step.want.new}} {
				r := s.get(t, "/", c.auth)
				if got := r.status == 200; got != c.want {
					t.Errorf("%s key token: status %d, want passing: %v", c.name, r.status, c.want)
				}
			}
		})
	}
}

// TestReloadAPIKeys revokes and adds API keys under a live server.
func TestReloadAPIKeys(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "keys", []byte("client-one-0123456789\n"))
	s := newTestServer(t, &Options{APIKeysFile: file})
	check := func(t *testing.T, key string, want bool) {
		t.Helper()
		if got := s.get(t, "/", "Bearer "+key).status == 200; got != want {
			t.Errorf("key %s passes: %v, want %v", key, got, want)
		}
	}
	check(t, "client-one-0123456789", true)
	check(t, "client-two-0123456789", false)

	writeFile(t, dir, "keys", []byte("client-two-0123456789\n"))
	if err := s.a.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	check(t, "client-one-0123456789", false)
	check(t, "client-two-0123456789", true)

	writeFile(t, dir, "keys", []byte("client-two-0123456789\nclient-three\n"))
	if err := s.a.Reload(); !errors.Is(err, ErrKeyFile) || !strings.Contains(err.Error(), file+":2:") {
		t.Fatalf("Reload() = %v, want ErrKeyFile naming %s:2", err, file)
	}
	check(t, "client-two-0123456789", true) // the previous keys stay

	writeFile(t, dir, "keys", []byte("# everyone revoked\n"))
	if err := s.a.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	check(t, "client-two-0123456789", false)
	if logged := s.log.take(); strings.Contains(logged, "client-") {
		t.Errorf("log holds a key: %s", logged)
	}
}

// TestRun drives Run's ticker with testing/synctest's clock: a change is
// picked up at the next tick, not before, a bad file is logged and keeps
// the old keys, and Run returns when its context ends.
func TestRun(t *testing.T) {
	k := keys()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		logger, logs := newLogger()
		file := writeFile(t, dir, "jwks.json", jwksDoc(jwkOf(k.ec, "old")))
		a, err := New(&Options{JWT: JWTOptions{JWKSFile: file}, ReloadInterval: 10 * time.Second, Logger: logger})
		if err != nil {
			t.Fatalf("New = %v", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }() // until cancel below
		exp := time.Now().Add(time.Hour).Unix()
		newToken := mint(t, jwt.SigningMethodEdDSA, k.ed, "new", jwt.MapClaims{"exp": exp})
		passes := func() bool { _, err := a.Verify(newToken); return err == nil }

		writeFile(t, dir, "jwks.json", jwksDoc(jwkOf(k.ed, "new")))
		time.Sleep(9 * time.Second) // the bubble's clock: just before the first tick
		synctest.Wait()
		if passes() {
			t.Fatalf("new key accepted before the first tick")
		}
		time.Sleep(time.Second)
		synctest.Wait() // Run has reloaded and is waiting for the next tick
		if !passes() {
			t.Fatalf("new key refused after the first tick; log: %s", logs.take())
		}
		if got := logs.take(); !strings.Contains(got, "auth: reloaded key file") {
			t.Errorf("log = %q, want the reload logged", got)
		}

		writeFile(t, dir, "jwks.json", []byte("not json"))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !passes() {
			t.Errorf("new key refused after a bad reload, want the previous keys kept")
		}
		if got := logs.take(); !containsAll(got, "level=ERROR", "auth: reload failed", file) {
			t.Errorf("log = %q, want the failed reload logged with the file", got)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := logs.take(); got != "" {
			t.Errorf("log = %q, want an unchanged bad file reported only once", got)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
}

// TestRunNothingToWatch checks that Run without watched files waits for
// its context and returns nil.
func TestRunNothingToWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, err := New(nil)
		if err != nil {
			t.Fatalf("New = %v", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }() // until cancel below
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Run returned %v before its context ended", err)
		default:
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
}

// TestReloadConcurrent verifies tokens from several goroutines while the
// JWKS file is rotated, so that -race sees Verify and Reload together.
// Each token passes whenever its key is in the file's current content.
func TestReloadConcurrent(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	both := jwksDoc(jwkOf(k.ec, "a"), jwkOf(k.ed, "b"))
	writeFile(t, dir, "jwks.json", both)
	a, err := New(&Options{JWT: JWTOptions{JWKSFile: filepath.Join(dir, "jwks.json")}})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	exp := jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}
	tokenA := mint(t, jwt.SigningMethodES256, k.ec, "a", exp)
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 4 {
		go func() { // until stop is closed
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				// Key a is in every version of the file.
				if _, err := a.Verify(tokenA); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 50 {
		doc := both
		if i%2 == 1 {
			doc = jwksDoc(jwkOf(k.ec, "a"))
		}
		writeFile(t, dir, "jwks.json", doc)
		if err := a.Reload(); err != nil {
			t.Errorf("Reload() = %v", err)
		}
	}
	close(stop)
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("Verify during reloads = %v", err)
		}
	}
}
