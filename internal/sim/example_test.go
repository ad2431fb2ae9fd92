package sim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/tickerd/tickerd/internal/quote"
	"github.com/tickerd/tickerd/internal/sim"
)

func ExampleNew() {
	now := time.Date(2026, 7, 27, 16, 51, 0, 0, time.UTC)
	srv := httptest.NewServer(sim.New(&sim.Options{Seed: 1, Now: func() time.Time { return now }}))
	defer srv.Close()
	src := quote.NewNasdaq(srv.URL, "")

	for _, sym := range []string{"AAPL", "AAPL", "ZZZX"} {
		req, err := src.NewRequest(context.Background(), sym)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		q, err := src.Parse(sym, resp)
		resp.Body.Close()
		if errors.Is(err, quote.ErrUnknownSymbol) {
			fmt.Println(sym, "unknown")
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s %.2f %+.2f at %s\n", q.Symbol, q.Price, q.Change, q.Time.In(time.UTC).Format(time.Kitchen))
	}
	// Output:
	// AAPL 394.28 -0.56 at 4:51PM
	// AAPL 394.76 -0.08 at 4:51PM
	// ZZZX unknown
}
