package web

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClientResumeParts runs testdata/resume.mjs under node, which checks
// that tickerd-client.js splits a resume too long for one message into
// subscribes under the server's 4 KiB limit. It is skipped without node.
func TestClientResumeParts(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: skipping the client's resume check")
	}
	client, err := filepath.Abs("static/tickerd-client.js")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "testdata/resume.mjs", client).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("node testdata/resume.mjs = %v:\n%s\nwant ok", err, out)
	}
}
