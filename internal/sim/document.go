package sim

import (
	"fmt"
	"strconv"
	"time"
)

// document is nasdaq's quote info answer. Field order follows the real
// service's; nil pointers and slices encode as null, as nasdaq sends them.
type document struct {
	Data    *data   `json:"data"`
	Message *string `json:"message"`
	Status  status  `json:"status"`
}

type status struct {
	RCode            int     `json:"rCode"`
	BCodeMessage     []bcode `json:"bCodeMessage"`
	DeveloperMessage *string `json:"developerMessage"`
}

type bcode struct {
	Code         int    `json:"code"`
	ErrorMessage string `json:"errorMessage"`
}

type data struct {
	Symbol        string     `json:"symbol"`
	CompanyName   string     `json:"companyName"`
	StockType     string     `json:"stockType"`
	Exchange      string     `json:"exchange"`
	PrimaryData   priceData  `json:"primaryData"`
	SecondaryData *priceData `json:"secondaryData"`
	KeyStats      keyStats   `json:"keyStats"`
	MarketStatus  string     `json:"marketStatus"`
	AssetClass    string     `json:"assetClass"`
}

type priceData struct {
	LastSalePrice      string `json:"lastSalePrice"`
	NetChange          string `json:"netChange"`
	PercentageChange   string `json:"percentageChange"`
	DeltaIndicator     string `json:"deltaIndicator"`
	LastTradeTimestamp string `json:"lastTradeTimestamp"`
	IsRealTime         bool   `json:"isRealTime"`
}

type keyStats struct {
	Volume        labelValue `json:"Volume"`
	PreviousClose labelValue `json:"PreviousClose"`
}

type labelValue struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// errorDocument is nasdaq's error answer, sent with HTTP status 200.
func errorDocument(b bcode) document {
	return document{Status: status{RCode: 400, BCodeMessage: []bcode{b}}}
}

// quote is the answer for sym at now from w's current state.
func (w *walk) quote(sym string, now time.Time) document {
	change := w.price - w.start
	delta := ""
	switch {
	case change > 0:
		delta = "up"
	case change < 0:
		delta = "down"
	}
	et := now.In(newYork)
	return document{
		Data: &data{
			Symbol:      sym,
			CompanyName: sym + " Simulated Common Stock",
			StockType:   "Common Stock",
			Exchange:    "NASDAQ-GS",
			PrimaryData: priceData{
				LastSalePrice:      dollars(w.price),
				NetChange:          signedCents(change),
				PercentageChange:   fmt.Sprintf("%.2f%%", float64(change)/float64(w.start)*100),
				DeltaIndicator:     delta,
				LastTradeTimestamp: et.Format("Jan 2, 2006 3:04 PM") + " ET",
				IsRealTime:         true,
			},
			KeyStats: keyStats{
				Volume:        labelValue{Label: "Volume", Value: thousands(w.volume)},
				PreviousClose: labelValue{Label: "Previous Close", Value: dollars(w.start)},
			},
			MarketStatus: marketStatus(et),
			AssetClass:   "STOCKS",
		},
		Status: status{RCode: 200},
	}
}

// dollars formats a positive amount of cents as nasdaq does: "$1,270.50".
func dollars(cents int64) string {
	return fmt.Sprintf("$%s.%02d", thousands(cents/100), cents%100)
}

// signedCents formats cents as a plain signed decimal: "-0.12", "0.75".
func signedCents(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// thousands formats n >= 0 with comma separators: "111,677".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// marketStatus is nasdaq's marketStatus for a New York time: the regular
// session 9:30-16:00 and the extended hours 4:00-9:30 and 16:00-20:00 on
// weekdays (holidays are ignored).
func marketStatus(et time.Time) string {
	if wd := et.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return "Closed"
	}
	switch m := et.Hour()*60 + et.Minute(); {
	case m < 4*60 || m >= 20*60:
		return "Closed"
	case m < 9*60+30:
		return "Pre Market"
	case m < 16*60:
		return "Open"
	default:
		return "After Hours"
	}
}

// newYork is the zone nasdaq's timestamps are in; with time/tzdata embedded
// the fixed fallback is never expected to be used.
var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		return time.FixedZone("EST", -5*60*60)
	}
	return loc
}()
