package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/consumergroup/consumergroup/internal/lageval"
)

// serve starts groupctl serve's web view on the demo's cluster and prints
// its URL. The returned function, deferred by runDemo, keeps the view up
// after the demo until parent ends (Ctrl-C), then stops it.
func (d *demo) serve(parent context.Context, listen string) (func(), error) {
	c := &common{zookeeper: d.zk.Addr(), brokers: strings.Join(d.kafka.Addrs(), ","), output: "table", timeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	s := newServer(c, d.watcher, serveOpts{interval: time.Second, window: lageval.DefaultSize, history: time.Hour})
	url, wait, err := s.start(ctx, listen)
	if err != nil {
		cancel()
		return nil, err
	}
	fmt.Fprintf(d.e.stdout, "web view of the demo: %s (open it in a browser)\n", url)
	return func() {
		if parent.Err() == nil {
			fmt.Fprintf(d.e.stdout, "the demo is over; its group stays in the web view at %s until Ctrl-C\n", url)
			<-parent.Done()
		}
		cancel()
		wait()
	}, nil
}
