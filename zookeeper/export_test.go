package zookeeper

// SetTestHooks makes the Client dialed with cfg call chunkDone after each
// chunk of a chunked request but the last, before the next is sent, and
// sent with the length of every request it writes (either may be nil).
func SetTestHooks(cfg *Config, chunkDone func(op string, chunk int), sent func(n int)) {
	cfg.hooks = &testHooks{chunkDone: chunkDone, sent: sent}
}
