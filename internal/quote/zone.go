package quote

import (
	"time"
	_ "time/tzdata" // ET and Warsaw times must parse in containers without zoneinfo
)

// Time zones the sources report in. With time/tzdata embedded the fallbacks
// (standard time, no DST) are never expected to be used.
var (
	newYork = loadZone("America/New_York", "EST", -5*60*60)
	warsaw  = loadZone("Europe/Warsaw", "CET", 1*60*60)
)

// loadZone loads name, or returns a fixed zone when it cannot.
func loadZone(name, fallback string, offset int) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone(fallback, offset)
	}
	return loc
}
