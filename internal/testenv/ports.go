package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Servers that testenv starts (ZooKeeper's client, peer and election ports)
// are told a port before they bind it, so there is a window between our
// check that a port is free and the server's bind. Ports handed out by the
// kernel for "127.0.0.1:0" come from the ephemeral range, the same range the
// kernel uses for the local end of every outgoing connection: with many
// test processes connecting at once, such a port is often taken within
// milliseconds (a ZooKeeper then exits with "Address already in use"). So
// free ports are drawn at random below the ephemeral range, where no
// outgoing connection ever lands, and checked by binding them.

// lowestPort is the lowest port freePorts hands out: above the well-known
// and commonly configured service ports.
const lowestPort = 10000

// ephemeralLow returns the first port of the kernel's ephemeral range
// (Linux's default 32768 when it cannot be read).
func ephemeralLow() int {
	const fallback = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return fallback
	}
	low, err := strconv.Atoi(fields[0])
	if err != nil || low <= lowestPort+1000 {
		return fallback
	}
	return low
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free when
// asked for, drawn below the ephemeral range. It holds every listener open
// until all n are chosen, so the ports differ from each other. Another test
// process drawing at random could still choose the same port before the
// caller binds it; the servers' start retries with new ports when a bind
// fails (see startFresh).
func freePorts(n int) ([]int, error) {
	high := ephemeralLow()
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	const attempts = 1000
	for try := 0; len(ports) < n; try++ {
		if try == attempts {
			return nil, fmt.Errorf("testenv: no free port on 127.0.0.1 in [%d, %d) after %d tries", lowestPort, high, attempts)
		}
		port := lowestPort + rand.IntN(high-lowestPort)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use: draw another
		}
		listeners = append(listeners, ln)
		ports = append(ports, port)
	}
	return ports, nil
}

// freePort returns one TCP port on 127.0.0.1 that was free when asked for.
func freePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// UnusedAddr returns a loopback address nothing listens on (a port just
// released), for tests of unreachable servers.
func UnusedAddr() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}
