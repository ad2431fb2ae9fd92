package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// closeGrace bounds the close handshakes at the end of a run; past it the
// remaining sockets are cut.
const closeGrace = 15 * time.Second

// options are tickload's flags.
type options struct {
	url            string
	clients        int
	perClient      int
	duration       time.Duration
	connectTimeout time.Duration
	concurrency    int
	symbols        []string // empty: ask the server
	serverPID      int      // 0: no memory or CPU figures
	localAddrs     []net.IP // source addresses, round robin; empty: the kernel's choice
	json           bool
	header         bool
	cpuProfile     string        // write tickload's own CPU profile of the window here
	slow           int           // extra clients that subscribe to every symbol and never read
	settle         time.Duration // wait between the last subscription and the window
	batch          bool          // tickerd: ask for batch frames (?batch=1)
	centrifugo     bool          // -target centrifugo
	pulse          time.Duration // tickerd: its schedule's period, for the pulse latency (0: none)
	api, apiKey    string        // centrifugo: the HTTP API endpoint and key the publisher uses
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("tickload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.url, "url", "", "the websocket endpoint (default ws://127.0.0.1:8080/ws for tickerd, ws://127.0.0.1:18000/connection/websocket for centrifugo)")
	target := fs.String("target", "tickerd", "the server's protocol: tickerd or centrifugo")
	fs.BoolVar(&o.batch, "batch", false, "tickerd: ask for batch frames (?batch=1), each a JSON array of messages")
	fs.StringVar(&o.api, "api", "http://127.0.0.1:18000/api", "centrifugo: the HTTP API the built-in publisher posts a batch of one publication per channel to every second")
	fs.StringVar(&o.apiKey, "api-key", "", "centrifugo: the HTTP API key (X-API-Key)")
	channels := fs.Int("channels", 500, "centrifugo without -symbols: publish to and subscribe among channels S0000 .. S<channels-1>")
	fs.DurationVar(&o.settle, "settle", 0, "wait this long after the last client subscribed before the window opens")
	fs.IntVar(&o.clients, "n", 100, "websocket clients")
	fs.IntVar(&o.perClient, "k", 20, "symbols per client")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "measurement window, from when every client is subscribed")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 2*time.Minute, "time allowed for connecting and subscribing every client")
	fs.IntVar(&o.concurrency, "concurrency", 64, "connections being set up at once")
	syms := fs.String("symbols", "", "comma-separated symbols to subscribe to (default: tickerd's GET /api/quotes; for centrifugo see -channels)")
	fs.IntVar(&o.serverPID, "server-pid", 0, "tickerd's process id, for its memory and CPU use (0: not reported)")
	addrs := fs.String("local-addrs", "", "comma-separated loopback source addresses to spread clients over, e.g. 127.0.0.1,127.0.0.2")
	fs.DurationVar(&o.pulse, "pulse", time.Second, "tickerd: the period of its schedule (\"@every 1s\" fires on whole seconds), so that the pulse latency counts from each pulse's start; 0: from collected_at (for centrifugo it is always the publication's stamp)")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
	fs.BoolVar(&o.header, "header", true, "print the table header before the row")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write tickload's own CPU profile over the window to this file")
	fs.IntVar(&o.slow, "slow", 0, "extra clients that subscribe to every symbol and then never read (isolation test); not counted in the figures")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	switch {
	case o.clients < 1:
		return nil, fmt.Errorf("%w: -n %d: want at least 1", errUsage, o.clients)
	case o.perClient < 1:
		return nil, fmt.Errorf("%w: -k %d: want at least 1", errUsage, o.perClient)
	case o.duration <= 0:
		return nil, fmt.Errorf("%w: -duration %v: want more than 0", errUsage, o.duration)
	case o.connectTimeout <= 0:
		return nil, fmt.Errorf("%w: -connect-timeout %v: want more than 0", errUsage, o.connectTimeout)
	case o.concurrency < 1:
		return nil, fmt.Errorf("%w: -concurrency %d: want at least 1", errUsage, o.concurrency)
	case o.slow < 0:
		return nil, fmt.Errorf("%w: -slow %d: want 0 or more", errUsage, o.slow)
	case o.settle < 0:
		return nil, fmt.Errorf("%w: -settle %v: want 0 or more", errUsage, o.settle)
	}
	switch *target {
	case "tickerd":
		if o.url == "" {
			o.url = "ws://127.0.0.1:8080/ws"
		}
	case "centrifugo":
		o.centrifugo = true
		if o.url == "" {
			o.url = "ws://127.0.0.1:18000/connection/websocket"
		}
		switch {
		case o.batch:
			return nil, fmt.Errorf("%w: -batch: tickerd only (centrifugo packs its frames itself)", errUsage)
		case o.slow > 0:
			return nil, fmt.Errorf("%w: -slow: tickerd only", errUsage)
		case o.apiKey == "":
			return nil, fmt.Errorf("%w: -target centrifugo needs -api-key", errUsage)
		case *channels < 1 || *channels > 10000:
			return nil, fmt.Errorf("%w: -channels %d: want 1 to 10000", errUsage, *channels)
		}
		if u, err := url.Parse(o.api); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("%w: -api %q: want http://HOST:PORT/api", errUsage, o.api)
		}
	default:
		return nil, fmt.Errorf("%w: -target %q: want tickerd or centrifugo", errUsage, *target)
	}
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "http") {
		return nil, fmt.Errorf("%w: -url %q: want ws://HOST:PORT/PATH", errUsage, o.url)
	}
	if o.batch {
		q := u.Query()
		q.Set("batch", "1")
		u.RawQuery = q.Encode()
		o.url = u.String()
	}
	o.symbols = splitList(*syms)
	if o.centrifugo && len(o.symbols) == 0 {
		o.symbols = channelNames(*channels)
	}
	for _, s := range splitList(*addrs) {
		ip := net.ParseIP(s)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: -local-addrs: %q is not a loopback address", errUsage, s)
		}
		o.localAddrs = append(o.localAddrs, ip)
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// run is tickload without the process: arguments and output are passed in
// so tests can call it. It returns once every connection it opened is
// closed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "plot" {
		return runPlot(args[1:], stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if _, err := raiseNofile(uint64(o.clients) + 256); err != nil {
		fmt.Fprintln(stderr, "tickload: warning:", err) // connect errors will show the consequence
	}
	syms := o.symbols
	if len(syms) == 0 {
		if syms, err = fetchSymbols(ctx, o.url); err != nil {
			return err
		}
	}
	if o.perClient > len(syms) {
		return fmt.Errorf("%w: -k %d: the server has only %d symbols", errUsage, o.perClient, len(syms))
	}
	res, err := loadTest(ctx, o, syms)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if o.header {
		fmt.Fprintln(stdout, tableHeader)
	}
	fmt.Fprintln(stdout, res.row())
	return nil
}

// fetchSymbols returns the symbols of the server's GET /api/quotes.
func fetchSymbols(ctx context.Context, wsURL string) ([]string, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	u.Scheme, u.Path, u.RawQuery = "http", "/api/quotes", ""
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("symbols: GET %s: status %d", u, resp.StatusCode)
	}
	var body struct {
		Quotes []struct {
			Symbol string `json:"symbol"`
		} `json:"quotes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("symbols: GET %s: %w", u, err)
	}
	out := make([]string, 0, len(body.Quotes))
	for _, q := range body.Quotes {
		out = append(out, q.Symbol)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("symbols: GET %s: no symbols", u)
	}
	return out, nil
}

// channelNames returns S0000 .. S<n-1>, the channels of a Centrifugo run,
// named like the symbols of a tickerd run with 500 simulated symbols.
func channelNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("S%04d", i)
	}
	return out
}

// clientSymbols returns client i's k symbols of syms: consecutive ones,
// starting at i*k, wrapping around.
func clientSymbols(i, k int, syms []string) []string {
	out := make([]string, k)
	for j := range out {
		out[j] = syms[(i*k+j)%len(syms)]
	}
	return out
}

// loadTest connects the clients, measures for o.duration, closes them and
// returns the result. Every client goroutine has exited when it returns.
func loadTest(ctx context.Context, o *options, syms []string) (*result, error) {
	res := &result{Clients: o.clients, PerClient: o.perClient, Symbols: len(syms), ServerPID: o.serverPID,
		Target: "tickerd", Batch: o.batch, SettleSeconds: o.settle.Seconds()}
	if o.centrifugo {
		res.Target = "centrifugo"
	}
	if o.serverPID != 0 {
		rss, err := readRSS(o.serverPID)
		if err != nil {
			return nil, err
		}
		res.RSSBefore = rss
	}
	t := newTally()
	if !o.centrifugo {
		t.pulse = o.pulse
	}
	hcs := httpClients(o.localAddrs)
	defer func() {
		for _, hc := range hcs {
			hc.CloseIdleConnections()
		}
	}()

	stop, stopAll := context.WithCancel(ctx)                  // ends: the clients close normally
	kill, killAll := context.WithCancel(context.Background()) // ends: every socket is cut
	defer killAll()
	var wg sync.WaitGroup
	closeAll := sync.OnceFunc(func() { // the clients exit on stop, bounded by kill
		stopAll()
		done := make(chan struct{})
		// Exits when every client has.
		go func() { wg.Wait(); close(done) }()
		timer := time.NewTimer(closeGrace)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			killAll()
			<-done
		}
	})
	defer closeAll()

	// Centrifugo: the built-in publisher pulses from before the first
	// connection to the end of the window.
	var pub *publisher
	stopPublisher := func() {}
	if o.centrifugo {
		pub = newPublisher(o.api, o.apiKey, syms)
		// Bounded even if the run hangs: past every phase's own bound.
		pubCtx, stopPub := context.WithTimeout(ctx, o.connectTimeout+o.settle+o.duration+time.Minute)
		pubDone := make(chan struct{})
		// Exits when pubCtx ends: at the end of the window (below) at the
		// latest.
		go func() { defer close(pubDone); pub.run(pubCtx) }()
		stopPublisher = sync.OnceFunc(func() { stopPub(); <-pubDone })
		defer stopPublisher()
	}

	// Connect phase: at most o.concurrency set-ups at once, all within
	// o.connectTimeout.
	connectStart := time.Now()
	connCtx, cancelConn := context.WithTimeout(stop, o.connectTimeout)
	defer cancelConn()
	sem := make(chan struct{}, o.concurrency)
	settled := make(chan bool, o.clients)
	launched := 0
launch:
	for i := range o.clients {
		select {
		case sem <- struct{}{}:
		case <-connCtx.Done():
			break launch
		}
		c := newLoadClient(o.url, hcs[i%len(hcs)], o.centrifugo, clientSymbols(i, o.perClient, syms))
		launched++
		// Exits when its connection is closed: after stop, or when the
		// server ends it, or when it cannot connect.
		wg.Go(func() {
			c.run(connCtx, stop, kill, t, func(ok bool) { <-sem; settled <- ok })
		})
	}
	for range launched {
		if <-settled {
			res.Connected++
		}
	}
	res.Unlaunched = o.clients - launched
	res.ConnectSeconds = time.Since(connectStart).Seconds()
	if o.serverPID != 0 {
		rss, err := readRSS(o.serverPID)
		if err != nil {
			return nil, err
		}
		res.RSSAfter = rss
		if res.Connected > 0 {
			res.RSSPerClientKiB = float64(rss-res.RSSBefore) / float64(res.Connected) / 1024
		}
	}

	// Slow clients, connected after the others so the RSS figure is theirs
	// alone; closed when the run ends.
	for range o.slow {
		conn, err := dialSlow(connCtx, o.url, syms)
		if err != nil {
			return nil, err
		}
		defer conn.CloseNow()
		res.Slow++
	}

	if o.settle > 0 {
		timer := time.NewTimer(o.settle)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
	}

	// Measurement window.
	res.LoadAvgStart = loadAvg()
	var srvCPU0 time.Duration
	if o.serverPID != 0 {
		srvCPU0, _ = readCPU(o.serverPID) // read again below; a failure shows as 0
	}
	stopProfile := func() {}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		// Stopped as the window closes, so the profile holds the window
		// alone, not the clients' closing; deferred too for the errors.
		stopProfile = sync.OnceFunc(pprof.StopCPUProfile)
		defer stopProfile()
	}
	var pulses0 int64
	if pub != nil {
		pulses0 = pub.pulses.Load()
	}
	selfCPU0 := selfCPU()
	start := time.Now()
	t.measuring.Store(true)
	timer := time.NewTimer(o.duration)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
	}
	t.measuring.Store(false)
	elapsed := time.Since(start)
	stopProfile()
	res.LoadAvgEnd = loadAvg()
	if pub != nil {
		stopPublisher()
		res.Pulses, res.PublishErrors = pub.pulses.Load()-pulses0, pub.errors.Load()
	}
	res.LoadCPU = (selfCPU() - selfCPU0).Seconds() / elapsed.Seconds()
	if o.serverPID != 0 {
		if c, err := readCPU(o.serverPID); err == nil {
			res.ServerCPU = (c - srvCPU0).Seconds() / elapsed.Seconds()
		}
	}
	closeAll()
	res.fill(t, elapsed)
	return res, nil
}
