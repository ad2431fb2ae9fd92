package fanout

import "github.com/prometheus/client_golang/prometheus"

// msgKind is a kind of message, the label of tickerd_ws_messages_sent_total.
type msgKind uint8

const (
	kindQuote msgKind = iota
	kindStatus
	kindSubscribed
	kindError
	kindReset
	numKinds
)

// kindNames are the label values of the kinds.
var kindNames = [numKinds]string{"quote", "status", "subscribed", "error", "reset"}

// sentCounts counts the messages of a batch, for the metrics. Owned by the
// client's writer.
type sentCounts struct {
	msgs  [numKinds]int
	bytes int
}

func (s *sentCounts) add(f frame) {
	s.msgs[f.kind]++
	s.bytes += len(f.b)
}

// Reasons of upgrade rejections, the label of
// tickerd_ws_upgrade_rejections_total.
const (
	rejectCapacity  = "capacity"  // MaxClients reached: 503
	rejectShutdown  = "shutdown"  // the Hub has stopped: 503
	rejectOrigin    = "origin"    // foreign Origin: 403
	rejectHandshake = "handshake" // not a valid websocket upgrade request
)

// metrics are the Hub's Prometheus metrics. A nil *metrics records nothing.
type metrics struct {
	clients       prometheus.Gauge
	subscriptions prometheus.Gauge
	messages      [numKinds]prometheus.Counter // by kind
	bytes         prometheus.Counter
	skipped       prometheus.Counter
	slow          prometheus.Counter
	rejections    *prometheus.CounterVec // reason
}

// newMetrics creates the metrics and registers them with reg; a nil reg
// means no metrics.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tickerd_ws_messages_sent_total", Help: "Websocket messages sent, by type."},
		[]string{"type"})
	m := &metrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tickerd_ws_clients", Help: "Websocket clients connected."}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tickerd_ws_subscriptions", Help: "Symbol subscriptions over all websocket clients."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickerd_ws_bytes_sent_total", Help: "Payload bytes of the websocket messages sent."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickerd_ws_updates_skipped_total", Help: "Symbol updates replaced by a newer one before a client's writer sent them (coalesced)."}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickerd_ws_slow_disconnects_total", Help: "Websocket clients disconnected because a frame was not taken within the write timeout."}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickerd_ws_upgrade_rejections_total", Help: "Websocket upgrade requests rejected, by reason."},
			[]string{"reason"}),
	}
	for k, name := range kindNames {
		m.messages[k] = sent.WithLabelValues(name)
	}
	for _, r := range []string{rejectCapacity, rejectShutdown, rejectOrigin, rejectHandshake} {
		m.rejections.WithLabelValues(r)
	}
	reg.MustRegister(m.clients, m.subscriptions, sent, m.bytes, m.skipped, m.slow, m.rejections)
	return m
}

func (m *metrics) addClients(n int) {
	if m != nil {
		m.clients.Add(float64(n))
	}
}

func (m *metrics) addSubscriptions(n int) {
	if m != nil && n != 0 {
		m.subscriptions.Add(float64(n))
	}
}

// sent counts the messages of a batch sent, and resets s.
func (m *metrics) sent(s *sentCounts) {
	if m != nil {
		for k, n := range s.msgs {
			if n > 0 {
				m.messages[k].Add(float64(n))
			}
		}
		if s.bytes > 0 {
			m.bytes.Add(float64(s.bytes))
		}
	}
	*s = sentCounts{}
}

func (m *metrics) skip(n int) {
	if m != nil && n > 0 {
		m.skipped.Add(float64(n))
	}
}

func (m *metrics) slowDisconnect() {
	if m != nil {
		m.slow.Inc()
	}
}

func (m *metrics) reject(reason string) {
	if m != nil {
		m.rejections.WithLabelValues(reason).Inc()
	}
}
