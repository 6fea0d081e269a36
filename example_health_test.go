package consumergroup_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/consumergroup/consumergroup"
)

// A readiness probe: ready while the member is healthy, an idle member
// (more members than partitions) and a short rebalance included.
func ExampleConsumerGroup_Health() {
	group, err := consumergroup.JoinConsumerGroup("billing", "invoices", []string{"127.0.0.1:2181"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer group.Close()
	http.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		h := group.Health()
		if !h.HealthyExcept(consumergroup.ReasonNoPartitions, consumergroup.ReasonRebalancing) {
			http.Error(w, h.String(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, h.String())
	})
	go func() {
		// Log each change of health.
		for {
			changed := group.HealthChanged()
			log.Printf("health: %v", group.Health())
			select {
			case <-changed:
			case <-group.Done():
				return
			}
		}
	}()
	for ev := range group.Stream() {
		_ = ev // process it
	}
}
