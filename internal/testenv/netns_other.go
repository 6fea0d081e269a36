//go:build !linux

package testenv

import (
	"context"
	"errors"
	"net"
)

// SilentLink needs Linux's network namespaces (see netns_linux.go).
type SilentLink struct{}

// NetnsSupport says why SilentLink cannot be made here.
func NetnsSupport() error { return errors.New("testenv: network namespaces need Linux") }

// NewSilentLink fails: see NetnsSupport.
func NewSilentLink(string) (*SilentLink, error) { return nil, NetnsSupport() }

func (*SilentLink) Addr() string { return "" }
func (*SilentLink) Dial(context.Context, string, string) (net.Conn, error) {
	return nil, NetnsSupport()
}
func (*SilentLink) Blackhole() error { return NetnsSupport() }
func (*SilentLink) Heal() error      { return NetnsSupport() }
func (*SilentLink) Close() error     { return nil }
