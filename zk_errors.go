package consumergroup

import (
	"errors"

	"github.com/go-zookeeper/zk"

	"github.com/consumergroup/consumergroup/internal/layout"
)

// pathErr wraps err, a go-zookeeper, context or parse error, for op on path,
// mapping it to the package's sentinel.
func pathErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var pe *PathError
	if errors.As(err, &pe) {
		return err
	}
	sentinel := sentinelOf(err)
	if sentinel == err {
		return &PathError{Op: op, Path: path, Err: sentinel}
	}
	return &PathError{Op: op, Path: path, Err: sentinel, Cause: err}
}

func sentinelOf(err error) error {
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return ErrNoNode
	case errors.Is(err, zk.ErrNodeExists):
		return ErrNodeExists
	case errors.Is(err, zk.ErrSessionExpired), errors.Is(err, zk.ErrSessionMoved):
		return ErrSessionExpired
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrNoServer):
		return ErrConnectionLoss
	case errors.Is(err, zk.ErrClosing), errors.Is(err, ErrClosed):
		return ErrClosed
	case errors.Is(err, layout.ErrBadData):
		return ErrBadData
	case errors.Is(err, layout.ErrInvalidName), errors.Is(err, layout.ErrInvalidChroot), errors.Is(err, zk.ErrInvalidPath):
		return ErrInvalidArgument
	}
	return nil
}
