package collector

import (
	"time"

	"context"

	"github.com/robfig/cron/v3"
)

// Run pulses the collector on schedule until ctx ends, then lets the
// collections in progress finish (each is bounded by the collection
// timeout, not by ctx) and returns nil. SetSchedule changes the schedule
// of a running Run.
func (c *Collector) Run(ctx context.Context, schedule cron.Schedule) error {
	collections := context.WithoutCancel(ctx)
	for {
		cr := cron.New(cron.WithLocation(time.UTC))
		cr.Schedule(schedule, cron.FuncJob(func() { c.Pulse(collections) }))
		cr.Start()
		next, err := c.schedR.Recv(ctx)
		<-cr.Stop().Done() // the scheduler and any pulse job have returned
		if err != nil {
			break // ctx ended
		}
		schedule = next
	}
	c.Wait()
	return nil
}

// SetSchedule makes a running Run use schedule from now on (the next pulse
// follows the new schedule). It never blocks.
func (c *Collector) SetSchedule(schedule cron.Schedule) {
	c.schedS.Send(context.Background(), schedule) // a State: overwrites, never blocks
}
