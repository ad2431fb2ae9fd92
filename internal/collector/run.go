package collector

import (
	"time"

	"context"

	"github.com/robfig/cron/v3"
)

// Run pulses the collector on schedule until ctx ends, then lets the
// collections in progress finish (each is bounded by the collection
// timeout, not by ctx) and returns nil.
func (c *Collector) Run(ctx context.Context, schedule cron.Schedule) error {
	collections := context.WithoutCancel(ctx)
	cr := cron.New(cron.WithLocation(time.UTC))
	cr.Schedule(schedule, cron.FuncJob(func() { c.Pulse(collections) }))
	cr.Start()
	<-ctx.Done()
	<-cr.Stop().Done() // the scheduler and any pulse job have returned
	c.Wait()
	return nil
}
