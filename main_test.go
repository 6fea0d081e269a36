package consumergroup_test

import (
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
