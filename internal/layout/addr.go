package layout

import (
	"fmt"
	"net"
	"strconv"
)

// CheckAddr checks that addr is host:port with a port in 1..65535: a
// ZooKeeper server's address or a Kafka broker's.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 || host == "" {
		return fmt.Errorf("%q is not host:port with a port from 1 to 65535", addr)
	}
	return nil
}
