package consumergroup_test

import (
	"os"
	"testing"

	"github.com/consumergroup/consumergroup/internal/testenv"
)

// realBlackholeScenarios are TestGroupBlackholes' scenarios of Kafka's
// coordinator with real packet loss.
var realBlackholeScenarios = []blackholeScenario{
	{name: "kafka-silent-to-one", kafka: true, sessions: 3, real: true},
	{name: "kafka-silent-to-all", kafka: true, all: true, sessions: 0.5, real: true},
}

// TestKafkaBlackholes: Kafka's coordinator, both protocols, on kfake and
// on a real Kafka broker, with the network between members and Kafka
// really losing packets (testenv.SilentLink: network namespaces and a veth
// pair of the test's own): Kafka silent to one member for three sessions,
// to every member for half a session. Nothing lost, no partition processed
// by two members at once; the recovery is logged. Skipped where network
// namespaces cannot be made (not root, no iproute2).
func TestKafkaBlackholes(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	if err := testenv.NetnsSupport(); err != nil {
		t.Skip(err)
	}
	setups := kafkaMatrix()
	if os.Getenv("CG_BLACKHOLE_KAFKA") == "" {
		setups = kfakeKafkaCoords()
	}
	forEachSetup(t, setups, func(t *testing.T, s setup) {
		for _, sc := range realBlackholeScenarios {
			t.Run(sc.name, func(t *testing.T) { testBlackhole(t, s, sc) })
		}
	})
}
