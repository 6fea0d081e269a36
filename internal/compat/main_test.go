package compat

import (
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
	"github.com/consumergroup/consumergroup/internal/testenv/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m, testenv.StopShared) }
