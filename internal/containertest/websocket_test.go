//go:build container

package containertest

import (
	"context"
	"encoding/json"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// baseURL is the instance under test, given by .ci/container-test.
var baseURL = flag.String("url", "", "base URL of a running tickerd, such as http://127.0.0.1:8080")

// waitTimeout bounds the whole exchange: the service collects every second
// with the image's default config, so a quote is due well within it.
const waitTimeout = 30 * time.Second

// message is the part of a server message the test reads.
type message struct {
	Type   string  `json:"type"`
	Symbol string  `json:"symbol"`
	Price  float64 `json:"price"`
	Seq    uint64  `json:"seq"`
	Code   string  `json:"code"`
}

// TestContainerWebsocketQuote subscribes to AAPL on /ws and waits for one
// "quote" message for it.
func TestContainerWebsocketQuote(t *testing.T) {
	if *baseURL == "" {
		t.Skip("no -url: run by .ci/container-test against a running image")
	}
	wsURL := "ws" + strings.TrimPrefix(strings.TrimSuffix(*baseURL, "/"), "http") + "/ws"
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatalf("websocket.Dial(%s) = %v, want a connection", wsURL, err)
	}
	defer c.CloseNow()
	sub := []byte(`{"op":"subscribe","symbols":["AAPL"]}`)
	if err := c.Write(ctx, websocket.MessageText, sub); err != nil {
		t.Fatalf("Write(%s) = %v, want nil", sub, err)
	}
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("Read() = %v before a quote for AAPL arrived", err)
		}
		if typ != websocket.MessageText {
			t.Fatalf("Read() message type = %v, want %v", typ, websocket.MessageText)
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("json.Unmarshal(%s) = %v, want a JSON object", data, err)
		}
		switch m.Type {
		case "error":
			t.Fatalf("server sent %s, want no error", data)
		case "quote":
			if m.Symbol != "AAPL" || m.Price <= 0 || m.Seq == 0 {
				t.Fatalf("quote %s: got symbol %q price %v seq %d, want AAPL with a positive price and seq", data, m.Symbol, m.Price, m.Seq)
			}
			t.Logf("quote: %s", data)
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				t.Errorf("Close() = %v, want nil", err)
			}
			return
		}
	}
}
