package zookeeper

// SetTestHooks makes the Client dialed with cfg call chunkDone after each
// chunk of a chunked request but the last, before the next is sent, and
// sent with the length of every request it writes (either may be nil).
func SetTestHooks(cfg *Config, chunkDone func(op string, chunk int), sent func(n int)) {
	cfg.hooks = &testHooks{chunkDone: chunkDone, sent: sent}
}

// SetNoMultiRead makes the Client dialed with cfg read whole groups as
// getData, as it does on a server without multiRead (ZooKeeper 3.5).
func SetNoMultiRead(cfg *Config) {
	if cfg.hooks == nil {
		cfg.hooks = &testHooks{}
	}
	cfg.hooks.noMultiRead = true
}
