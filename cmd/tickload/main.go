// Command tickload is a load tool for tickerd's websocket fan-out: it opens
// N websocket clients to a running tickerd, subscribes each to K symbols,
// listens for a fixed duration and reports what arrived.
//
// Usage:
//
//	tickload [-url ws://127.0.0.1:8080/ws] [-n 100] [-k 20] [-duration 30s]
//	         [-symbols AAPL,MSFT,...] [-server-pid PID] [-local-addrs 127.0.0.1,127.0.0.2]
//	         [-json] [-header=false] [-cpuprofile FILE]
//	tickload plot [-o FILE] [-goal MS] [-pulse] LABEL=RESULT.json,... ...
//
// It reports, over the measurement window (which starts once every client
// is connected and subscribed): delivered quotes per second; end-to-end
// latency percentiles (a quote's collected_at to its arrival, on the same
// machine's clock); quotes the server coalesced (gaps in a symbol's seq);
// unexpected disconnects; connect errors; and with -server-pid, the
// server's resident memory per client (VmRSS after connecting minus
// before, over N) and its CPU use during the window.
//
// "tickload plot" draws an SVG chart of the p50 and p99 latency against
// the number of clients from results saved with -json, one line pair per
// LABEL (with -pulse, the latency from each quote's pulse start).
//
// The symbols come from -symbols or from the server's GET /api/quotes.
// Client i subscribes to symbols i*K .. i*K+K-1 (modulo their number), so
// each symbol gets about N*K/S subscribers. tickload raises its own
// RLIMIT_NOFILE to fit N connections; -local-addrs spreads the clients
// over several loopback source addresses when ephemeral ports run short.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tickload:", err)
		stop()
		os.Exit(exitCode(err))
	}
}
