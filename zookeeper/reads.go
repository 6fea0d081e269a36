package zookeeper

import (
	"context"
	"sync"

	"github.com/go-zookeeper/zk"
)

// readsInFlight bounds the reads a look at a whole group (Offsets, Owners,
// OffsetCommitTimes) keeps in flight at once. go-zookeeper pipelines them
// on the connection: a group of 10,000 partitions is read in the time of a
// few hundred round trips instead of 10,000.
const readsInFlight = 64

// nodeRead is what reading one node gave.
type nodeRead struct {
	data []byte
	stat *zk.Stat
	err  error // a *PathError naming op and the node
}

// getAll reads the nodes at paths, readsInFlight at a time, and returns
// what each read gave, in the order of paths.
func (z *Client) getAll(ctx context.Context, op string, paths []string) []nodeRead {
	out := make([]nodeRead, len(paths))
	var wg sync.WaitGroup
	sem := make(chan struct{}, readsInFlight)
	for i, p := range paths {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := &out[i]
			r.data, r.stat, r.err = z.get(ctx, op, p)
		})
	}
	wg.Wait()
	return out
}
