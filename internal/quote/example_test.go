package quote_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tickerd/tickerd/internal/quote"
)

func ExampleNasdaq_Parse() {
	src := quote.NewNasdaq("", "")
	respond := func(body string) *http.Response {
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(body))}
	}

	resp := respond(`{"data":{"symbol":"AAPL","primaryData":{"lastSalePrice":"$267.85","netChange":"0.75",` +
		`"percentageChange":"0.28%","lastTradeTimestamp":"DATA AS OF Nov 19, 2019 9:27 AM ET - PRE-MARKET"},` +
		`"keyStats":{"Volume":{"label":"Volume","value":"111,677"}}},` +
		`"message":null,"status":{"rCode":200,"bCodeMessage":null,"developerMessage":null}}`)
	q, err := src.Parse("AAPL", resp)
	resp.Body.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %.2f %+.2f %+.2f%% volume %d at %s\n",
		q.Symbol, q.Price, q.Change, q.ChangePct, q.Volume, q.Time.Format(time.RFC3339))

	resp = respond(`{"data":null,"message":null,"status":{"rCode":400,` +
		`"bCodeMessage":[{"code":1001,"errorMessage":"Symbol not exists."}],"developerMessage":null}}`)
	_, err = src.Parse("AAPLX", resp)
	resp.Body.Close()
	fmt.Println(errors.Is(err, quote.ErrUnknownSymbol), err)
	// Output:
	// AAPL 267.85 +0.75 +0.28% volume 111677 at 2019-11-19T09:27:00-05:00
	// true nasdaq AAPLX: quote: unknown symbol: code 1001 "Symbol not exists."
}
