//go:build container

package containertest

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tickerd/tickerd/internal/config"
)

// dig walks a decoded YAML document along path (map keys, or list
// indexes as ints) and returns what is there, nil if nothing.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func decodeDocs(t *testing.T, file string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("ReadFile(%s) = %v", file, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("yaml Decode(%s) document %d = %v", file, len(docs)+1, err)
		}
		docs = append(docs, d)
	}
}

// envOf returns a container's env as name -> value ("fieldRef:<path>"
// for values taken from the pod).
func envOf(c any) map[string]string {
	env := map[string]string{}
	list, _ := dig(c, "env").([]any)
	for _, e := range list {
		name, _ := dig(e, "name").(string)
		if v, ok := dig(e, "value").(string); ok {
			env[name] = v
		} else if f, ok := dig(e, "valueFrom", "fieldRef", "fieldPath").(string); ok {
			env[name] = "fieldRef:" + f
		}
	}
	return env
}

// checkClusterConfig loads the image's config with env applied and checks
// that it is cluster mode on natsHost.
func checkClusterConfig(t *testing.T, env map[string]string, natsHost string) {
	t.Helper()
	cfg, err := config.Load(filepath.Join(deployDir, "config.yaml"))
	if err != nil {
		t.Fatalf("config.Load(deploy/config.yaml) = %v", err)
	}
	if err := config.ApplyEnv(cfg, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("ApplyEnv(%v) = %v, want nil", env, err)
	}
	if !cfg.Cluster.Enabled() {
		t.Fatalf("config with env %v: cluster not enabled", env)
	}
	u, err := url.Parse(cfg.Cluster.NATSURL)
	if err != nil || u.Hostname() != natsHost || u.Port() != "4222" {
		t.Errorf("cluster.nats_url = %q, want nats://%s:4222", cfg.Cluster.NATSURL, natsHost)
	}
}

// TestContainerDeployClusterKubernetes checks deploy/cluster/kubernetes.yaml:
// a NATS with JetStream and its Service, the image's config, three tickerd
// replicas pointed at that NATS with unique instance ids.
func TestContainerDeployClusterKubernetes(t *testing.T) {
	docs := decodeDocs(t, filepath.Join(deployDir, "cluster", "kubernetes.yaml"))
	byKey := map[string]map[string]any{}
	for _, d := range docs {
		byKey[dig(d, "kind").(string)+"/"+dig(d, "metadata", "name").(string)] = d
	}
	for _, k := range []string{"StatefulSet/nats", "Service/nats", "ConfigMap/tickerd-config", "Deployment/tickerd", "Service/tickerd"} {
		if byKey[k] == nil {
			t.Fatalf("deploy/cluster/kubernetes.yaml has %v, want %s", slices.Sorted(maps.Keys(byKey)), k)
		}
	}
	nats := dig(byKey["StatefulSet/nats"], "spec", "template", "spec", "containers", 0)
	args, _ := dig(nats, "args").([]any)
	if !slices.Contains(args, any("--jetstream")) || dig(byKey["StatefulSet/nats"], "spec", "volumeClaimTemplates", 0) == nil {
		t.Errorf("nats container args %v, want --jetstream with a volume claim (file storage)", args)
	}
	if p := dig(byKey["Service/nats"], "spec", "ports", 0, "port"); p != 4222 {
		t.Errorf("Service nats port = %v, want 4222", p)
	}
	image, err := os.ReadFile(filepath.Join(deployDir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := dig(byKey["ConfigMap/tickerd-config"], "data", "config.yaml").(string); withoutComments(got) != withoutComments(string(image)) {
		t.Errorf("ConfigMap config.yaml =\n%s\nwant deploy/config.yaml", got)
	}
	dep := byKey["Deployment/tickerd"]
	if r := dig(dep, "spec", "replicas"); r != 3 {
		t.Errorf("Deployment replicas = %v, want 3", r)
	}
	env := envOf(dig(dep, "spec", "template", "spec", "containers", 0))
	if env[config.EnvInstanceID] != "fieldRef:metadata.name" {
		t.Errorf("env %s = %q, want the pod's name", config.EnvInstanceID, env[config.EnvInstanceID])
	}
	checkClusterConfig(t, map[string]string{config.EnvNATSURL: env[config.EnvNATSURL], config.EnvInstanceID: "tickerd-5d8f7-abcde"}, "nats")
	if p := dig(dep, "spec", "template", "spec", "containers", 0, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readinessProbe path = %v, want /readyz", p)
	}
	if env[config.EnvAdminListen] != "0.0.0.0:9090" {
		t.Errorf("env %s = %q, want 0.0.0.0:9090 (the admin port)", config.EnvAdminListen, env[config.EnvAdminListen])
	}
	if p := dig(dep, "spec", "template", "spec", "containers", 0, "readinessProbe", "httpGet", "port"); p != "admin" {
		t.Errorf("readinessProbe port = %v, want admin (admin_listen)", p)
	}
	if p := dig(dep, "spec", "template", "metadata", "annotations", "prometheus.io/port"); p != "9090" {
		t.Errorf("prometheus.io/port = %v, want 9090 (admin_listen)", p)
	}
}

// TestContainerDeployClusterCompose checks deploy/cluster/compose.yaml: a
// NATS with JetStream on a volume, three tickerd replicas of the image
// pointed at it, and one published port on a load balancer that passes
// websockets to them.
func TestContainerDeployClusterCompose(t *testing.T) {
	docs := decodeDocs(t, filepath.Join(deployDir, "cluster", "compose.yaml"))
	if len(docs) != 1 {
		t.Fatalf("compose.yaml has %d documents, want 1", len(docs))
	}
	svcs := dig(docs[0], "services")
	cmd, _ := dig(svcs, "nats", "command").([]any)
	vols, _ := dig(svcs, "nats", "volumes").([]any)
	if !slices.Contains(cmd, any("--jetstream")) || len(vols) != 1 || !strings.HasSuffix(vols[0].(string), ":/data") {
		t.Errorf("nats command %v volumes %v, want --jetstream with /data on a volume", cmd, vols)
	}
	tk := dig(svcs, "tickerd")
	if r := dig(tk, "deploy", "replicas"); r != 3 {
		t.Errorf("tickerd replicas = %v, want 3", r)
	}
	if ports := dig(tk, "ports"); ports != nil {
		t.Errorf("tickerd ports = %v, want none (replicas are reached through lb)", ports)
	}
	if ctx := filepath.Join(deployDir, "cluster", dig(tk, "build", "context").(string), dig(tk, "build", "dockerfile").(string)); filepath.Clean(ctx) != filepath.Clean("../../Dockerfile") {
		t.Errorf("tickerd build = %s, want the repository's Dockerfile", ctx)
	}
	envMap, _ := dig(tk, "environment").(map[string]any)
	natsURL, _ := envMap[config.EnvNATSURL].(string)
	checkClusterConfig(t, map[string]string{config.EnvNATSURL: natsURL, config.EnvInstanceID: "3f2a9c0d1e4b"}, "nats")

	lb := dig(svcs, "lb")
	if ports, _ := dig(lb, "ports").([]any); len(ports) != 1 || ports[0] != "8080:8080" {
		t.Errorf("lb ports = %v, want [8080:8080]", ports)
	}
	conf, err := os.ReadFile(filepath.Join(deployDir, "cluster", "nginx.conf"))
	if err != nil {
		t.Fatalf("ReadFile(nginx.conf) = %v", err)
	}
	for _, want := range []string{"http://tickerd:8080", "proxy_set_header Upgrade $http_upgrade", "proxy_http_version 1.1", "resolver 127.0.0.11"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
}
