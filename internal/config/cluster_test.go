package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/config"
)

func TestParseCluster(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "nats.creds")
	if err := os.WriteFile(creds, []byte("-----BEGIN NATS USER JWT-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := "cluster:\n  nats_url: nats://127.0.0.1:4222, nats://127.0.0.1:4223\n  bucket: quotes_1\n  replicas: 3\n" +
		"  instance_id: tickerd-0.tickerd.default\n  lease_ttl: 2s\n  resume_wait: 0s\n  creds_file: " + creds + "\n" +
		"  tls: {ca_file: " + creds + ", cert_file: " + creds + ", key_file: " + creds + "}\n"
	cfg, err := config.Parse("t.yaml", []byte(ok))
	if err != nil {
		t.Fatalf("Parse(%q) = %v", ok, err)
	}
	want := config.Cluster{
		NATSURL: "nats://127.0.0.1:4222, nats://127.0.0.1:4223", Bucket: "quotes_1", Replicas: 3,
		InstanceID: "tickerd-0.tickerd.default", LeaseTTL: 2 * time.Second, ResumeWait: 0, CredsFile: creds,
		TLS: config.ClusterTLS{CAFile: creds, CertFile: creds, KeyFile: creds},
	}
	if cfg.Cluster != want || !cfg.Cluster.Enabled() {
		t.Errorf("Parse(%q).Cluster = %+v, want %+v, enabled", ok, cfg.Cluster, want)
	}
	if d := config.Default().Cluster; d.Enabled() || d.Bucket != "tickerd" || d.LeaseTTL != 3*time.Second || d.ResumeWait != 2*time.Second || d.Replicas != 1 {
		t.Errorf("Default().Cluster = %+v, want disabled, bucket tickerd, lease 3s, resume 2s, 1 replica", d)
	}

	tests := []struct {
		name string
		data string
		line int
		key  string
	}{
		{"url_scheme", "cluster:\n  nats_url: http://127.0.0.1:4222\n", 2, "cluster.nats_url"},
		{"url_second_bad", "cluster:\n  nats_url: \"nats://127.0.0.1:4222,127.0.0.1\"\n", 2, "cluster.nats_url"},
		{"url_no_host", "cluster:\n  nats_url: nats://\n", 2, "cluster.nats_url"},
		{"url_user_info", "cluster:\n  nats_url: nats://tickerd:s3cr3t@127.0.0.1:4222\n", 2, "cluster.nats_url"},
		{"url_bad_scheme_with_secret", "cluster:\n  nats_url: htps://u:s3cr3t@host\n", 2, "cluster.nats_url"},
		{"bucket_dot", "cluster:\n  bucket: a.b\n", 2, "cluster.bucket"},
		{"bucket_empty", "cluster:\n  bucket: \"\"\n", 2, "cluster.bucket"},
		{"replicas_zero", "cluster:\n  replicas: 0\n", 2, "cluster.replicas"},
		{"replicas_six", "cluster:\n  replicas: 6\n", 2, "cluster.replicas"},
		{"instance_space", "cluster:\n  instance_id: a b\n", 2, "cluster.instance_id"},
		{"lease_short", "cluster:\n  lease_ttl: 100ms\n", 2, "cluster.lease_ttl"},
		{"resume_long", "cluster:\n  resume_wait: 1m\n", 2, "cluster.resume_wait"},
		{"creds_missing", "cluster:\n  creds_file: " + filepath.Join(dir, "nope") + "\n", 2, "cluster.creds_file"},
		{"creds_dir", "cluster:\n  creds_file: " + dir + "\n", 2, "cluster.creds_file"},
		{"cert_without_key", "cluster:\n  tls:\n    cert_file: " + creds + "\n", 2, "cluster.tls"},
		{"unknown_tls_key", "cluster:\n  tls:\n    insecure: true\n", 3, "cluster.tls.insecure"},
		{"unknown_key", "cluster:\n  leader: me\n", 2, "cluster.leader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(tc.data))
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Line != tc.line || ce.Key != tc.key {
				t.Fatalf("Parse(%q) = %v, want an error at line %d, key %s", tc.data, err, tc.line, tc.key)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("Parse(%q) = %v, shows the password", tc.data, err)
			}
		})
	}
}

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(*config.Config)
		wantErr bool
	}{
		{"none", nil, func(*config.Config) {}, false},
		{"all", map[string]string{config.EnvListen: "127.0.0.1:9000", config.EnvNATSURL: "nats://127.0.0.1:4222", config.EnvInstanceID: "pod-1"},
			func(c *config.Config) {
				c.Listen, c.Cluster.NATSURL, c.Cluster.InstanceID = "127.0.0.1:9000", "nats://127.0.0.1:4222", "pod-1"
			}, false},
		{"bad_listen", map[string]string{config.EnvListen: "nowhere"}, nil, true},
		{"bad_url", map[string]string{config.EnvNATSURL: "localhost:4222"}, nil, true},
		{"bad_instance", map[string]string{config.EnvNATSURL: "nats://127.0.0.1:4222", config.EnvInstanceID: "a/b"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			err := config.ApplyEnv(cfg, func(k string) string { return tc.env[k] })
			want := config.Default()
			if tc.want != nil {
				tc.want(want)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("ApplyEnv(%v) = %v, want error %v", tc.env, err, tc.wantErr)
			}
			if cfg.Listen != want.Listen || cfg.Cluster != want.Cluster {
				t.Errorf("ApplyEnv(%v): listen %q cluster %+v, want %q %+v (unchanged on error)", tc.env, cfg.Listen, cfg.Cluster, want.Listen, want.Cluster)
			}
		})
	}
}
