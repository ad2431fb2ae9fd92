package fanout

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/quote"
)

func ExampleHub() {
	b := board.New(&board.Options{Epoch: "6f1d2c3b4a5e6f70"}) // the collector (or the cluster watch) writes to it
	b.PutSymbols(context.Background(), board.Symbols{Configured: []string{"AAPL", "MSFT"}})
	hub := New(b, nil, nil) // no Demand: dynamic symbols off
	srv := httptest.NewServer(hub)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()

	b.Put(ctx, board.Snapshot{Symbol: "AAPL", Attempted: true, Quote: quote.Quote{
		Symbol: "AAPL", Price: 267.85, Change: 0.75, ChangePct: 0.28, Volume: 111677, HasVolume: true,
		CollectedAt: time.Date(2026, 11, 21, 15, 4, 5, 123456789, time.UTC), Seq: 17,
	}})

	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"op":"subscribe","symbols":["aapl","MSFT"]}`))
	for range 2 {
		_, msg, _ := c.Read(ctx)
		fmt.Println(string(msg))
	}
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"op":"subscribe","symbols":["A B"]}`))
	_, msg, _ := c.Read(ctx)
	fmt.Println(string(msg))

	cancel() // Run closes every client with 1001, then returns
	_, _, err = c.Read(context.Background())
	fmt.Println(websocket.CloseStatus(err), <-done)
	// Output:
	// {"type":"subscribed","symbols":["AAPL","MSFT"],"epoch":"6f1d2c3b4a5e6f70"}
	// {"type":"quote","symbol":"AAPL","price":267.85,"change":0.75,"change_pct":0.28,"volume":111677,"collected_at":"2026-11-21T15:04:05.123456789Z","seq":17}
	// {"type":"error","code":"invalid_symbol","message":"invalid symbol \"A B\": want 1 to 12 letters, digits, '.', '-' or '^'"}
	// StatusGoingAway <nil>
}
