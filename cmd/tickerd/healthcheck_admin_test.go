package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHealthcheckURLAdmin: with an admin listener (TICKERD_ADMIN_LISTEN,
// else admin_listen in the config), where /healthz then is, the
// healthcheck's default URL is on its port, whatever TICKERD_LISTEN says;
// without one, TICKERD_LISTEN's port, else listen's.
func TestHealthcheckURLAdmin(t *testing.T) {
	dir := t.TempDir()
	withAdmin := filepath.Join(dir, "admin.yaml")
	without := filepath.Join(dir, "plain.yaml")
	if err := os.WriteFile(withAdmin, []byte("listen: \"127.0.0.1:8181\"\nadmin_listen: \"127.0.0.1:9191\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(without, []byte("listen: \"127.0.0.1:8181\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"admin", map[string]string{"TICKERD_CONFIG": withAdmin}, "http://127.0.0.1:9191/healthz"},
		{"admin_over_env_listen", map[string]string{"TICKERD_CONFIG": withAdmin, "TICKERD_LISTEN": "127.0.0.1:7171"}, "http://127.0.0.1:9191/healthz"},
		{"listen", map[string]string{"TICKERD_CONFIG": without}, "http://127.0.0.1:8181/healthz"},
		{"env_listen", map[string]string{"TICKERD_CONFIG": without, "TICKERD_LISTEN": "127.0.0.1:7171"}, "http://127.0.0.1:7171/healthz"},
		{"env_admin", map[string]string{"TICKERD_CONFIG": withAdmin, "TICKERD_LISTEN": "127.0.0.1:7171", "TICKERD_ADMIN_LISTEN": "127.0.0.1:6161"}, "http://127.0.0.1:6161/healthz"},
		{"env_admin_no_file", map[string]string{"TICKERD_CONFIG": filepath.Join(dir, "nope.yaml"), "TICKERD_ADMIN_LISTEN": "127.0.0.1:6161"}, "http://127.0.0.1:6161/healthz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, url := healthcheckFlags(func(k string) string { return tc.env[k] })
			if *url != tc.want {
				t.Errorf("healthcheckFlags(%v) -url = %q, want %q", tc.env, *url, tc.want)
			}
		})
	}
}
