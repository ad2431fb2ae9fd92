//go:build container

package containertest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tickerd/tickerd/internal/config"
)

// deployDir is deploy/ from this package's directory, where go test runs.
const deployDir = "../../deploy"

// The parts of the Kubernetes objects the test reads.
type (
	k8sObject struct {
		Kind     string                `yaml:"kind"`
		Metadata struct{ Name string } `yaml:"metadata"`
		Data     map[string]string     `yaml:"data"`
		Spec     k8sSpec               `yaml:"spec"`
	}
	k8sSpec struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec k8sPodSpec `yaml:"spec"`
		} `yaml:"template"`
		Ports []k8sServicePort `yaml:"ports"` // a Service's
	}
	k8sServicePort struct {
		Port       int    `yaml:"port"`
		TargetPort string `yaml:"targetPort"`
	}
	k8sPodSpec struct {
		TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot bool `yaml:"runAsNonRoot"`
			RunAsUser    int  `yaml:"runAsUser"`
		} `yaml:"securityContext"`
		Containers []k8sContainer `yaml:"containers"`
		Volumes    []struct {
			Name      string `yaml:"name"`
			ConfigMap struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		} `yaml:"volumes"`
	}
	k8sContainer struct {
		Image string `yaml:"image"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Env            []map[string]any `yaml:"env"`
		ReadinessProbe k8sProbe         `yaml:"readinessProbe"`
		LivenessProbe  k8sProbe         `yaml:"livenessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			SubPath   string `yaml:"subPath"`
		} `yaml:"volumeMounts"`
	}
	k8sProbe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	}
)

// decodeAll decodes every document of a YAML stream in file.
func decodeAll(t *testing.T, file string) []k8sObject {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("ReadFile(%s) = %v", file, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []k8sObject
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("yaml Decode(%s) document %d = %v, want nil", file, len(objs)+1, err)
		}
		objs = append(objs, o)
	}
}

// withoutComments drops the lines of s that are only a comment, so that the
// image's config file and the ConfigMap's copy compare by content.
func withoutComments(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// TestContainerDeployKubernetes checks that deploy/kubernetes.yaml parses,
// carries the image's config (which tickerd accepts), and wires the probes,
// port, mount and user the image expects.
func TestContainerDeployKubernetes(t *testing.T) {
	objs := decodeAll(t, filepath.Join(deployDir, "kubernetes.yaml"))
	byKind := map[string]k8sObject{}
	for _, o := range objs {
		byKind[o.Kind] = o
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind)
	}
	if want := []string{"ConfigMap", "Deployment", "Service"}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("kinds = %v, want %v", kinds, want)
	}

	image, err := os.ReadFile(filepath.Join(deployDir, "config.yaml"))
	if err != nil {
		t.Fatalf("ReadFile(deploy/config.yaml) = %v", err)
	}
	cm := byKind["ConfigMap"]
	got := cm.Data["config.yaml"]
	if withoutComments(got) != withoutComments(string(image)) {
		t.Errorf("ConfigMap config.yaml =\n%s\nwant deploy/config.yaml:\n%s", got, image)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
		t.Fatalf("WriteFile(%s) = %v", path, err)
	}
	if cfg, err := config.Load(path); err != nil {
		t.Errorf("config.Load(ConfigMap config.yaml) = %v, want nil", err)
	} else if cfg.Listen != "0.0.0.0:8080" {
		t.Errorf("ConfigMap config listen = %q, want %q", cfg.Listen, "0.0.0.0:8080")
	}

	dep := byKind["Deployment"].Spec
	pod := dep.Template.Spec
	if !reflect.DeepEqual(dep.Selector.MatchLabels, dep.Template.Metadata.Labels) {
		t.Errorf("Deployment selector %v, pod labels %v, want equal", dep.Selector.MatchLabels, dep.Template.Metadata.Labels)
	}
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser != 65532 {
		t.Errorf("pod securityContext = %+v, want runAsNonRoot and runAsUser 65532", pod.SecurityContext)
	}
	if pod.TerminationGracePeriodSeconds < 15 {
		t.Errorf("terminationGracePeriodSeconds = %d, want at least 15 (the shutdown bound)", pod.TerminationGracePeriodSeconds)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != "tickerd:latest" {
		t.Errorf("image = %q, want tickerd:latest", c.Image)
	}
	if len(c.Ports) != 2 || c.Ports[0].ContainerPort != 8080 || c.Ports[0].Name != "http" || c.Ports[1].ContainerPort != 9090 || c.Ports[1].Name != "admin" {
		t.Errorf("ports = %+v, want http 8080 and admin 9090 (admin_listen)", c.Ports)
	}
	var adminEnv any
	for _, e := range c.Env {
		if e["name"] == config.EnvAdminListen {
			adminEnv = e["value"]
		}
	}
	if adminEnv != "0.0.0.0:9090" {
		t.Errorf("env %s = %v, want 0.0.0.0:9090 (the admin port)", config.EnvAdminListen, adminEnv)
	}
	for _, p := range []struct {
		name, got, port, want string
	}{
		{"readinessProbe", c.ReadinessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Port, "/readyz"},
		{"livenessProbe", c.LivenessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Port, "/healthz"},
	} {
		if p.got != p.want || p.port != "admin" {
			t.Errorf("%s = GET %s on port %q, want GET %s on port admin (admin_listen)", p.name, p.got, p.port, p.want)
		}
	}
	if c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources = %+v, want memory requests and limits", c.Resources)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/etc/tickerd/config.yaml" || c.VolumeMounts[0].SubPath != "config.yaml" {
		t.Errorf("volumeMounts = %+v, want config.yaml over /etc/tickerd/config.yaml", c.VolumeMounts)
	}
	if len(pod.Volumes) != 1 || pod.Volumes[0].ConfigMap.Name != cm.Metadata.Name {
		t.Errorf("volumes = %+v, want the ConfigMap %s", pod.Volumes, cm.Metadata.Name)
	}

	svc := byKind["Service"].Spec
	if len(svc.Ports) != 1 || svc.Ports[0].Port != 8080 || svc.Ports[0].TargetPort != "http" {
		t.Errorf("Service ports = %+v, want 8080 to http", svc.Ports)
	}
}

// TestContainerDeployCompose checks that deploy/compose.yaml parses and
// builds, mounts, publishes and health-checks the way the image expects.
func TestContainerDeployCompose(t *testing.T) {
	file := filepath.Join(deployDir, "compose.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("ReadFile(%s) = %v", file, err)
	}
	var compose struct {
		Services map[string]struct {
			Build struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
			Image       string   `yaml:"image"`
			Ports       []string `yaml:"ports"`
			Volumes     []string `yaml:"volumes"`
			User        string   `yaml:"user"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("yaml.Unmarshal(%s) = %v, want nil", file, err)
	}
	s, ok := compose.Services["tickerd"]
	if !ok {
		t.Fatalf("%s has services %v, want tickerd", file, compose.Services)
	}
	if ctx := filepath.Join(deployDir, s.Build.Context, s.Build.Dockerfile); filepath.Clean(ctx) != filepath.Clean("../../Dockerfile") {
		t.Errorf("build = %+v, want the repository's Dockerfile", s.Build)
	}
	if s.Image != "tickerd:latest" || s.User != "65532:65532" {
		t.Errorf("image, user = %q, %q, want tickerd:latest, 65532:65532", s.Image, s.User)
	}
	if !reflect.DeepEqual(s.Ports, []string{"8080:8080"}) {
		t.Errorf("ports = %v, want [8080:8080]", s.Ports)
	}
	if !reflect.DeepEqual(s.Volumes, []string{"./config.yaml:/etc/tickerd/config.yaml:ro"}) {
		t.Errorf("volumes = %v, want deploy/config.yaml over /etc/tickerd/config.yaml", s.Volumes)
	}
	if want := []string{"CMD", "/usr/local/bin/tickerd", "healthcheck"}; !reflect.DeepEqual(s.Healthcheck.Test, want) {
		t.Errorf("healthcheck test = %v, want %v", s.Healthcheck.Test, want)
	}
}
