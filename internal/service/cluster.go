package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tickerd/tickerd/internal/cluster"
	"github.com/tickerd/tickerd/internal/collector"
	"github.com/tickerd/tickerd/internal/config"
)

// errTermOver resets the upstream connection when this instance stops
// leading: a follower holds no connection to the source.
var errTermOver = errors.New("service: term as leader over")

// newNode returns the cluster node for cfg's cluster section. It does no
// I/O; the node's Lead runs s.lead.
func (s *Service) newNode(cfg *config.Config) (*cluster.Node, error) {
	c := cfg.Cluster
	var nopts []nats.Option
	if c.CredsFile != "" {
		nopts = append(nopts, nats.UserCredentials(c.CredsFile))
	}
	if c.TLS.CAFile != "" {
		nopts = append(nopts, nats.RootCAs(c.TLS.CAFile))
	}
	if c.TLS.CertFile != "" {
		nopts = append(nopts, nats.ClientCert(c.TLS.CertFile, c.TLS.KeyFile))
	}
	maxDynamic := 0
	if cfg.Websocket.DynamicSymbols {
		maxDynamic = cfg.Websocket.MaxDynamicSymbols
	}
	return cluster.New(s.board, &cluster.Options{
		URL:        strings.ReplaceAll(c.NATSURL, " ", ""),
		Bucket:     c.Bucket,
		Replicas:   c.Replicas,
		Instance:   s.instance,
		LeaseTTL:   c.LeaseTTL,
		MaxDynamic: maxDynamic,
		Lead:       s.lead,
		NATS:       nopts,
		Logger:     s.log,
		Registerer: s.reg,
	})
}

// resumeWait is the fan-out's ResumeWait: cluster.resume_wait in cluster
// mode; a single process's board is where the seqs come from, so a client
// ahead of it has nothing to wait for.
func resumeWait(cfg *config.Config) time.Duration {
	if cfg.Cluster.Enabled() {
		return cfg.Cluster.ResumeWait
	}
	return 0
}

// instanceID returns the cluster instance id: the configured one, else the
// host name.
func instanceID(c config.Cluster) string {
	if c.InstanceID != "" {
		return c.InstanceID
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "tickerd"
}

// lead is one term as leader: a collector writing through the term (every
// write fenced), seeded with the snapshots this instance has watched so
// that seqs go on, collecting the configured symbols and those any
// instance's clients want, until the term ends.
func (s *Service) lead(ctx context.Context, t *cluster.Term) error {
	s.cfgMu.Lock()
	c := collector.New(s.source, s.client, t, s.cfg.Symbols, s.collectorOptions(t.Seed))
	sched := s.schedule
	s.coll = c // Reload now reaches this collector
	s.cfgMu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	// Follow returns when ctx ends, with the term.
	go func() { defer wg.Done(); _ = t.Follow(ctx, c) }()
	_ = c.Run(ctx, sched) // returns once ctx ends and its collections are gone
	wg.Wait()

	s.cfgMu.Lock()
	s.coll = nil
	s.cfgMu.Unlock()
	s.client.Reset(errTermOver)
	return nil
}

// serveCluster is GET /api/cluster: this instance's view of the cluster,
// or in single-process mode its instance and epoch.
func (s *Service) serveCluster(w http.ResponseWriter, _ *http.Request) {
	var body any = struct {
		Mode     string `json:"mode"`
		Instance string `json:"instance"`
		Epoch    string `json:"epoch"`
	}{"single", s.instance, s.board.Epoch()}
	if s.node != nil {
		body = struct {
			Mode string `json:"mode"`
			cluster.Status
		}{"cluster", s.node.Status()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(body) // a write error means the client is gone
}
